"""TLS and mutual TLS end to end: real service processes, certificates made here.

The certificates come from `cryptography` (a dependency already), so the
test never skips for want of an openssl binary.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import calendar_service_pb2_grpc as cal_grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.services.activity.support import Cluster


@dataclass
class Issued:
    cert: bytes
    key: bytes


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _ca(common: str) -> tuple[Issued, ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(_name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)), key, cert


def _leaf(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, common: str, server: bool
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))


@dataclass
class Pki:
    ca: Issued
    server: Issued
    client: Issued
    stranger: Issued  # a client certificate from another CA
    dir: Path

    def write(self, name: str, issued: Issued) -> tuple[str, str]:
        cert, key = self.dir / f"{name}.pem", self.dir / f"{name}.key"
        cert.write_bytes(issued.cert)
        key.write_bytes(issued.key)
        return str(cert), str(key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    ca, ca_key, ca_cert = _ca("almanac test CA")
    _other, other_key, other_cert = _ca("someone else's CA")
    return Pki(
        ca,
        _leaf(ca_key, ca_cert, "server", server=True),
        _leaf(ca_key, ca_cert, "client", server=False),
        _leaf(other_key, other_cert, "stranger", server=False),
        tmp_path_factory.mktemp("pki"),
    )


def _list_zones(address: str, credentials: grpc.ChannelCredentials | None, token: str) -> int:
    channel = (
        grpc.secure_channel(address, credentials)
        if credentials is not None
        else grpc.insecure_channel(address)
    )
    with channel:
        reply = cal_grpc.CalendarServiceStub(channel).ListTimeZones(
            cal_pb.ListTimeZonesRequest(page_size=3),
            metadata=[("authorization", f"Bearer {token}")],
            timeout=10,
        )
        return len(reply.time_zones)


def _refused(address: str, credentials: grpc.ChannelCredentials | None, token: str) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        _list_zones(address, credentials, token)
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]


@pytest.mark.parametrize("mutual", [False, True], ids=["tls", "mtls"])
def test_services_speak_tls(pki: Pki, tmp_path: Path, mutual: bool) -> None:
    cert, key = pki.write("server", pki.server)
    ca_file = pki.dir / "ca.pem"
    ca_file.write_bytes(pki.ca.cert)
    settings = {"tls_cert_file": cert, "tls_key_file": key}
    if mutual:
        settings["tls_client_ca_file"] = str(ca_file)
    cluster = Cluster(
        f"sqlite:///{tmp_path / 'almanac.db'}",
        tmp_path / "logs",
        ("account", "calendar"),
        **settings,
    )
    try:
        address, token = cluster.address("calendar"), cluster.secret
        with_cert = grpc.ssl_channel_credentials(
            pki.ca.cert, private_key=pki.client.key, certificate_chain=pki.client.cert
        )
        assert _list_zones(address, with_cert, token) == 3
        _refused(address, None, token)  # plaintext to a TLS port
        _refused(address, grpc.ssl_channel_credentials(pki.stranger.cert), token)  # wrong CA
        no_cert = grpc.ssl_channel_credentials(pki.ca.cert)
        stranger = grpc.ssl_channel_credentials(
            pki.ca.cert, private_key=pki.stranger.key, certificate_chain=pki.stranger.cert
        )
        if mutual:
            _refused(address, no_cert, token)
            _refused(address, stranger, token)
        else:
            assert _list_zones(address, no_cert, token) == 3
    finally:
        cluster.close()
