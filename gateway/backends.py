"""The gRPC side: one ``grpc.aio`` channel per target and generic calls.

Calls are built from the descriptors (``channel.unary_unary(path, ...)``),
so the gateway needs no generated stubs and serves any service whose
descriptors are in the pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc

from gateway.routes import MethodInfo

__all__ = ["Backends"]

_CHANNEL_OPTIONS = (
    # An ICS export may be up to 16 MiB; gRPC's default receive limit is 4 MiB.
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    # Find dead connections under long-lived streams; within the server's
    # default ping policy (pings no more often than every 5 minutes idle).
    ("grpc.keepalive_time_ms", 300_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.enable_retries", 1),
)


class Backends:
    """Channels to the services and cached callables for their methods."""

    def __init__(self, targets: Mapping[str, str]) -> None:
        self.targets = dict(targets)
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._callables: dict[str, Any] = {}

    def _channel(self, service: str) -> grpc.aio.Channel:
        address = self.targets[service]
        channel = self._channels.get(address)
        if channel is None:
            # Channels are created lazily, on the serving event loop (grpc.aio
            # objects belong to the loop that made them).
            channel = grpc.aio.insecure_channel(address, options=_CHANNEL_OPTIONS)
            self._channels[address] = channel
        return channel

    def unary(self, method: MethodInfo) -> Any:
        """The ``UnaryUnaryMultiCallable`` of ``method``."""
        found = self._callables.get(method.grpc_path)
        if found is None:
            found = self._channel(method.service).unary_unary(
                method.grpc_path,
                request_serializer=_serialize,
                response_deserializer=method.output_class.FromString,
            )
            self._callables[method.grpc_path] = found
        return found

    def stream(self, method: MethodInfo) -> Any:
        """The ``UnaryStreamMultiCallable`` of ``method``; messages arrive as raw bytes.

        Raw, because many streams carry the same messages (a fan-out): the
        stream layer renders each distinct message once (see gateway.streaming).
        """
        found = self._callables.get(method.grpc_path)
        if found is None:
            found = self._channel(method.service).unary_stream(
                method.grpc_path, request_serializer=_serialize
            )
            self._callables[method.grpc_path] = found
        return found

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
        self._callables.clear()


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())
