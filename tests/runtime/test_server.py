"""The server factory: health, reflection, binding, TLS, graceful shutdown, signals."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.runtime.server import RunningServer, ServerStartError, serve_forever, server_options

from .conftest import make_settings, start_echo
from .echo import ECHO_SERVICE, bearer

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def check(channel: grpc.aio.Channel, service: str) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return int(reply.status)


async def test_health_serving(channel: grpc.aio.Channel) -> None:
    assert await check(channel, "") == SERVING
    assert await check(channel, ECHO_SERVICE) == SERVING


async def test_reflection_lists_services(channel: grpc.aio.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)

    async def requests() -> Any:
        yield reflection_pb2.ServerReflectionRequest(list_services="")
        yield reflection_pb2.ServerReflectionRequest(file_containing_symbol=ECHO_SERVICE)

    replies = [r async for r in stub.ServerReflectionInfo(requests())]
    names = {s.name for s in replies[0].list_services_response.service}
    assert names == {
        ECHO_SERVICE,
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    assert replies[1].file_descriptor_response.file_descriptor_proto  # the echo file


async def test_port_zero_and_listening_log(echo_pb: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="almanac.server"):
        running = await start_echo(echo_pb)
    try:
        assert running.port > 0
        assert f"almanac-echo listening on 127.0.0.1:{running.port}" in caplog.text
    finally:
        await running.shutdown(grace=0)


async def test_second_server_on_same_port_fails(echo_pb: Any, echo_server: RunningServer) -> None:
    with pytest.raises(ServerStartError, match=f"cannot listen on 127.0.0.1:{echo_server.port}"):
        await start_echo(echo_pb, port=echo_server.port)


def test_server_options() -> None:
    opts = dict(server_options(make_settings(max_receive_message_bytes="1MiB")))
    assert opts["grpc.so_reuseport"] == 0
    assert opts["grpc.keepalive_time_ms"] == 30000
    assert opts["grpc.keepalive_timeout_ms"] == 10000
    assert opts["grpc.keepalive_permit_without_calls"] == 1
    assert opts["grpc.http2.min_recv_ping_interval_without_data_ms"] > 0
    assert opts["grpc.max_receive_message_length"] == 1 << 20
    assert opts["grpc.max_send_message_length"] == 16 << 20


async def test_message_size_limit(echo_pb: Any) -> None:
    running = await start_echo(echo_pb, make_settings(max_receive_message_bytes=2048))
    try:
        async with grpc.aio.insecure_channel(running.address) as ch:
            stub = echo_pb[1].EchoServiceStub(ch)
            ok = await stub.Echo(
                echo_pb[0].EchoRequest(message="x" * 100), metadata=bearer("reader")
            )
            assert ok.message == "x" * 100
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.Echo(
                    echo_pb[0].EchoRequest(message="x" * 5000), metadata=bearer("reader")
                )
            assert err.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        await running.shutdown(grace=0)


async def test_graceful_shutdown_sequence(echo_pb: Any) -> None:
    running = await start_echo(echo_pb, make_settings(drain_seconds=0.4, grace_seconds=2.0))
    hooked = asyncio.Event()

    async def hook() -> None:
        hooked.set()

    running.on_shutdown.append(hook)
    async with grpc.aio.insecure_channel(running.address) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        echo = echo_pb[1].EchoServiceStub(ch)
        watch = health.Watch(health_pb2.HealthCheckRequest(service=ECHO_SERVICE))
        assert (await watch.read()).status == SERVING
        # A stream in flight when shutdown starts finishes within the grace period.
        slow = echo.EchoStream(
            echo_pb[0].EchoStreamRequest(count=4, delay_ms=150), metadata=bearer("reader")
        )
        assert (await slow.read()).index == 0

        shutdown = asyncio.create_task(running.shutdown())
        assert (await asyncio.wait_for(watch.read(), 2)).status == NOT_SERVING
        watch.cancel()
        # Draining: health says NOT_SERVING but RPCs are still accepted.
        assert await check(ch, "") == NOT_SERVING
        assert await check(ch, ECHO_SERVICE) == NOT_SERVING
        assert hooked.is_set()
        assert not shutdown.done()
        reply = await echo.Echo(echo_pb[0].EchoRequest(message="late"), metadata=bearer("reader"))
        assert reply.message == "late"

        rest = [(await slow.read()).index for _ in range(3)]
        assert rest == [1, 2, 3]
        assert await slow.read() is grpc.aio.EOF
        assert await slow.code() is grpc.StatusCode.OK
        await asyncio.wait_for(shutdown, 5)
        await running.shutdown()  # idempotent
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await echo.Echo(echo_pb[0].EchoRequest(), metadata=bearer("reader"), timeout=2)
        assert err.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_shutdown_cancels_streams_after_grace(echo_pb: Any) -> None:
    running = await start_echo(echo_pb, make_settings(grace_seconds=0.2))
    async with grpc.aio.insecure_channel(running.address) as ch:
        echo = echo_pb[1].EchoServiceStub(ch)
        endless = echo.EchoStream(
            echo_pb[0].EchoStreamRequest(count=10_000, delay_ms=20), metadata=bearer("reader")
        )
        await endless.read()
        await asyncio.wait_for(running.shutdown(), 5)
        with pytest.raises(grpc.aio.AioRpcError):
            while await endless.read() is not grpc.aio.EOF:
                pass


async def test_failing_shutdown_hook_does_not_stop_shutdown(
    echo_pb: Any, caplog: pytest.LogCaptureFixture
) -> None:
    running = await start_echo(echo_pb)
    calls: list[str] = []

    def bad() -> None:
        calls.append("bad")
        raise RuntimeError("hook broke")

    running.on_shutdown.extend([bad, lambda: calls.append("sync")])
    await running.shutdown()
    assert calls == ["bad", "sync"]
    assert "hook broke" in caplog.text


async def test_serve_forever_stops_on_sigterm(echo_pb: Any) -> None:
    running = await start_echo(echo_pb)
    task = asyncio.create_task(serve_forever(running))
    await asyncio.sleep(0.05)  # let it install the signal handlers
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(task, 5)
    assert running.health._gracefully_shutting_down
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(
        signal.getsignal(signal.SIGTERM)
    )


async def test_serve_forever_returns_when_server_stops(echo_pb: Any) -> None:
    running = await start_echo(echo_pb)
    task = asyncio.create_task(serve_forever(running))
    await asyncio.sleep(0.05)
    await running.server.stop(0)
    await asyncio.wait_for(task, 5)


def test_missing_tls_file_is_a_clear_error(tmp_path: Path) -> None:
    from services.runtime.server import _credentials

    settings = make_settings(
        tls_cert_file=str(tmp_path / "nope.pem"), tls_key_file=str(tmp_path / "nope.key")
    )
    with pytest.raises(ServerStartError, match="tls_cert_file"):
        _credentials(settings)


# --- TLS and mutual TLS ---------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=almanac test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)  # fmt: skip
    for name, usage in (("server", "serverAuth"), ("client", "clientAuth")):
        (d / f"{name}.ext").write_text(
            f"subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage={usage}\n"
        )
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=d)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
                 "-extfile", f"{name}.ext", cwd=d)  # fmt: skip
    return d


async def test_tls(echo_pb: Any, pki: Path) -> None:
    settings = make_settings(
        tls_cert_file=str(pki / "server.pem"), tls_key_file=str(pki / "server.key")
    )
    running = await start_echo(echo_pb, settings)
    try:
        creds = grpc.ssl_channel_credentials(root_certificates=(pki / "ca.pem").read_bytes())
        async with grpc.aio.secure_channel(running.address, creds) as ch:
            reply = (
                await echo_pb[1]
                .EchoServiceStub(ch)
                .Echo(echo_pb[0].EchoRequest(message="tls"), metadata=bearer("reader"), timeout=5)
            )
            assert reply.message == "tls"
        async with grpc.aio.insecure_channel(running.address) as ch:
            with pytest.raises(grpc.aio.AioRpcError):
                await check(ch, "")
    finally:
        await running.shutdown(grace=0)


async def test_mutual_tls_requires_a_client_certificate(echo_pb: Any, pki: Path) -> None:
    settings = make_settings(
        tls_cert_file=str(pki / "server.pem"),
        tls_key_file=str(pki / "server.key"),
        tls_client_ca_file=str(pki / "ca.pem"),
    )
    running = await start_echo(echo_pb, settings)
    ca = (pki / "ca.pem").read_bytes()
    try:
        with_cert = grpc.ssl_channel_credentials(
            root_certificates=ca,
            private_key=(pki / "client.key").read_bytes(),
            certificate_chain=(pki / "client.pem").read_bytes(),
        )
        async with grpc.aio.secure_channel(running.address, with_cert) as ch:
            assert await check(ch, "") == SERVING
        without = grpc.ssl_channel_credentials(root_certificates=ca)
        async with grpc.aio.secure_channel(running.address, without) as ch:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await check(ch, "")
            assert err.value.code() is grpc.StatusCode.UNAVAILABLE
    finally:
        await running.shutdown(grace=0)
