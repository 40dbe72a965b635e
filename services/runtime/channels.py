"""Client channels to one or several replicas of a service.

Python's gRPC has no custom resolver API (grpc/grpc#11685), so several
replicas are named with the C-core's own schemes: ``host:port,host:port``
becomes an ``ipv4:`` (or ``ipv6:``) target that ``round_robin`` spreads calls
over, and a single host name a ``dns:///`` target (round_robin over every
address it resolves to, re-resolved when a connection goes away).

Every channel carries the service config in ``service_config.json`` (shipped
in the package, documented in the README): ``round_robin`` and a retry policy
for ``UNAVAILABLE`` on the idempotent methods, which are the reads and the
creates that carry a ``request_id`` (a replayed create returns the first
result, see `services.runtime.context.Runtime.idempotent`). gRPC's retry
policy is per method, not per request, so a create without a ``request_id``
must go through a channel whose config leaves creates out:
`retries_safely` tells which, and `ReplicaChannels` keeps one of each.
"""

from __future__ import annotations

import copy
import functools
import importlib
import ipaddress
import json
import pkgutil
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import almanac.v1
import grpc
from google.protobuf.message import Message

from services.runtime.config import Settings

__all__ = [
    "CHANNEL_OPTIONS",
    "SERVICE_CONFIG_PATH",
    "ReplicaChannels",
    "aio_channel",
    "channel_options",
    "connection_age_options",
    "retries_safely",
    "service_config",
    "sync_channel",
    "target",
]

SERVICE_CONFIG_PATH = Path(__file__).with_name("service_config.json")

_SCHEMES = ("dns:", "ipv4:", "ipv6:", "unix:", "unix-abstract:", "xds:")

CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.enable_retries", 1),
    # The config comes from here, never from DNS TXT records.
    ("grpc.service_config_disable_resolution", 1),
    # A replica that died is tried again within a few seconds once it is back
    # (gRPC's default backoff grows to two minutes, far too long to rebalance).
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 2000),
    # Find a silently dead connection under a long-lived stream; within the
    # servers' ping policy (services/runtime/server.py allows one per 5 s).
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
)


def _request_id_methods() -> frozenset[tuple[str, str]]:
    """(service, method) of every RPC of the contract whose request has a request_id."""
    for module in pkgutil.iter_modules(almanac.v1.__path__):
        if module.name.endswith("_pb2"):
            importlib.import_module(f"almanac.v1.{module.name}")
    found = set()
    for name in dir(almanac.v1):
        if not name.endswith("_pb2"):
            continue
        for service in getattr(almanac.v1, name).DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                if "request_id" in method.input_type.fields_by_name:
                    found.add((service.full_name, method.name))
    return frozenset(found)


@functools.cache
def service_config(retry_creates: bool = True) -> str:
    """The service config as JSON; without ``retry_creates``, creates are not retried."""
    config: dict[str, Any] = json.loads(SERVICE_CONFIG_PATH.read_text())
    if retry_creates:
        return json.dumps(config)
    creates = _request_id_methods()
    reads_only = copy.deepcopy(config)
    reads_only["methodConfig"] = [
        entry
        for entry in config["methodConfig"]
        if not any((n["service"], n.get("method", "")) in creates for n in entry["name"])
    ]
    return json.dumps(reads_only)


def retries_safely(request: Message) -> bool:
    """False for a create without a ``request_id``: a retry could create it twice."""
    if "request_id" not in request.DESCRIPTOR.fields_by_name:
        return True
    return bool(request.request_id)  # type: ignore[attr-defined]


def _split(address: str) -> tuple[str, str]:
    host, sep, port = address.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {address!r}")
    return host.strip("[]"), port


def _literal(host: str, port: str, several: bool) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        if not several:
            raise
    # A list of host names: resolved once here, since a dns: target names one host.
    infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    v4 = [a for a in addresses if a.version == 4]
    return (v4 or addresses)[0]


def target(addresses: str | Sequence[str]) -> str:
    """A gRPC target for ``host:port[,host:port...]``; a target with a scheme is kept."""
    text = addresses if isinstance(addresses, str) else ",".join(addresses)
    text = text.strip()
    if text.startswith(_SCHEMES):
        return text
    parts = [_split(a) for a in text.split(",") if a.strip()]
    if not parts:
        raise ValueError("no address given")
    several = len(parts) > 1
    try:
        literals = [(_literal(host, port, several), port) for host, port in parts]
    except ValueError:
        host, port = parts[0]
        return f"dns:///{host}:{port}"
    except OSError as exc:
        raise ValueError(f"cannot resolve {text!r}: {exc}") from None
    versions = {ip.version for ip, _ in literals}
    if versions == {4}:
        return "ipv4:" + ",".join(f"{ip}:{port}" for ip, port in literals)
    if versions == {6}:
        return "ipv6:" + ",".join(f"[{ip}]:{port}" for ip, port in literals)
    raise ValueError(f"cannot mix IPv4 and IPv6 replicas in one target: {text!r}")


def channel_options(
    retry_creates: bool = True, extra: Sequence[tuple[str, Any]] = ()
) -> list[tuple[str, Any]]:
    """The options of a replica channel; ``extra`` ones win."""
    options = dict(CHANNEL_OPTIONS)
    options["grpc.service_config"] = service_config(retry_creates)
    options.update(dict(extra))
    return list(options.items())


def sync_channel(
    addresses: str | Sequence[str],
    *,
    retry_creates: bool = True,
    options: Sequence[tuple[str, Any]] = (),
    credentials: grpc.ChannelCredentials | None = None,
) -> grpc.Channel:
    """A blocking channel balanced over ``addresses``."""
    opts = channel_options(retry_creates, options)
    if credentials is None:
        return grpc.insecure_channel(target(addresses), options=opts)
    return grpc.secure_channel(target(addresses), credentials, options=opts)


def aio_channel(
    addresses: str | Sequence[str],
    *,
    retry_creates: bool = True,
    options: Sequence[tuple[str, Any]] = (),
    credentials: grpc.ChannelCredentials | None = None,
) -> grpc.aio.Channel:
    """A ``grpc.aio`` channel balanced over ``addresses`` (made on the serving loop)."""
    opts = channel_options(retry_creates, options)
    if credentials is None:
        return grpc.aio.insecure_channel(target(addresses), options=opts)
    return grpc.aio.secure_channel(target(addresses), credentials, options=opts)


class ReplicaChannels:
    """The two ``grpc.aio`` channels of one address list, made when first needed.

    ``for_request`` answers the channel that may retry the request: the
    retrying one, unless the request is a create without a ``request_id``.
    """

    def __init__(self, addresses: str, options: Sequence[tuple[str, Any]] = ()) -> None:
        self.addresses = addresses
        self._options = tuple(options)
        self._channels: dict[bool, grpc.aio.Channel] = {}

    def get(self, retry_creates: bool = True) -> grpc.aio.Channel:
        channel = self._channels.get(retry_creates)
        if channel is None:
            channel = aio_channel(
                self.addresses, retry_creates=retry_creates, options=self._options
            )
            self._channels[retry_creates] = channel
        return channel

    def for_request(self, request: Message) -> grpc.aio.Channel:
        return self.get(retries_safely(request))

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()


def connection_age_options(settings: Settings) -> list[tuple[str, int]]:
    """The server side of rebalancing: GOAWAY after ``max_connection_age_ms``.

    gRPC adds +-10% jitter so that clients do not reconnect all at once;
    calls still open after the grace are cancelled (a stream client resumes
    from its cursor on whichever replica its channel picks next).
    """
    if not settings.max_connection_age_ms:
        return []
    return [
        ("grpc.max_connection_age_ms", settings.max_connection_age_ms),
        ("grpc.max_connection_age_grace_ms", settings.max_connection_age_grace_ms),
    ]
