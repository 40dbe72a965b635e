"""The gRPC side: balanced ``grpc.aio`` channels per target and generic calls.

Calls are built from the descriptors (``channel.unary_unary(path, ...)``),
so the gateway needs no generated stubs and serves any service whose
descriptors are in the pool. A target may list several replicas
(``host:port,host:port``): see `services.runtime.channels` for the
balancing and the retries, and why a create without a ``request_id`` takes
a channel that does not retry it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
from google.protobuf.message import Message

from gateway.routes import MethodInfo
from services.runtime.channels import ReplicaChannels, retries_safely

__all__ = ["Backends"]

_CHANNEL_OPTIONS = (
    # An ICS export may be up to 16 MiB; gRPC's default receive limit is 4 MiB.
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    # Find dead connections under long-lived streams; within a gRPC server's
    # default ping policy (pings no more often than every 5 minutes idle), as
    # the gateway may front servers other than Almanac's. Reconnect backoff
    # and retries: services.runtime.channels.
    ("grpc.keepalive_time_ms", 300_000),
    ("grpc.keepalive_timeout_ms", 20_000),
)


class Backends:
    """Channels to the services and cached callables for their methods."""

    def __init__(self, targets: Mapping[str, str]) -> None:
        self.targets = dict(targets)
        self._channels: dict[str, ReplicaChannels] = {}
        self._callables: dict[tuple[str, bool], Any] = {}

    def _channel(self, service: str, retry_creates: bool = True) -> grpc.aio.Channel:
        address = self.targets[service]
        channels = self._channels.get(address)
        if channels is None:
            channels = ReplicaChannels(address, _CHANNEL_OPTIONS)
            self._channels[address] = channels
        # Channels are created lazily, on the serving event loop (grpc.aio
        # objects belong to the loop that made them).
        return channels.get(retry_creates)

    def unary(self, method: MethodInfo, request: Message | None = None) -> Any:
        """The ``UnaryUnaryMultiCallable`` of ``method`` (one that may retry ``request``)."""
        safe = request is None or retries_safely(request)
        found = self._callables.get((method.grpc_path, safe))
        if found is None:
            found = self._channel(method.service, safe).unary_unary(
                method.grpc_path,
                request_serializer=_serialize,
                response_deserializer=method.output_class.FromString,
            )
            self._callables[(method.grpc_path, safe)] = found
        return found

    def stream(self, method: MethodInfo) -> Any:
        """The ``UnaryStreamMultiCallable`` of ``method``; messages arrive as raw bytes.

        Raw, because many streams carry the same messages (a fan-out): the
        stream layer renders each distinct message once (see gateway.streaming).
        """
        found = self._callables.get((method.grpc_path, True))
        if found is None:
            found = self._channel(method.service).unary_stream(
                method.grpc_path, request_serializer=_serialize
            )
            self._callables[(method.grpc_path, True)] = found
        return found

    async def close(self) -> None:
        for channels in self._channels.values():
            await channels.close()
        self._channels.clear()
        self._callables.clear()


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())
