"""One public port for gRPC and HTTP/1.1: peek at the first bytes, then route.

Every gRPC client opens its connection with the HTTP/2 connection preface
(``PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n``, RFC 9113 section 3.4); no
HTTP/1.1 request starts with it. So the listener reads until the bytes either
match the whole preface (gRPC) or stop matching it (HTTP/1.1, the gateway):

- gRPC connections are spliced to the ``grpc.aio`` server's internal,
  loopback-only address: grpc's C core cannot adopt a socket accepted by
  Python, so the bytes are copied, transport to transport (no streams, no
  extra tasks per chunk).
- HTTP/1.1 connections are handed to the gateway's uvicorn protocol as they
  are: the accepted transport switches protocol and the peeked bytes are
  replayed, so the gateway costs nothing extra on this port.

TLS is not peeked through (a ClientHello hides the protocol); the caller
refuses TLS settings in this shape.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

__all__ = ["PREFACE", "OnePortListener", "Splice"]

_log = logging.getLogger("almanac.single")

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Give up on a client that sends nothing decisive for this long (slowloris).
_PEEK_TIMEOUT_S = 10.0


class Splice(asyncio.Protocol):
    """One side of a byte pipe: what arrives here is written to ``peer``.

    Back-pressure crosses over: when ``peer``'s write buffer is full, this
    side stops reading until it drains (``pause_writing`` of the other side).
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: Splice | None = None
        self._pending = bytearray()  # data that arrived before the peer existed
        self.ended = False  # this side sent EOF

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: uvloop's transports do not subclass asyncio's.
        self.transport = cast(asyncio.Transport, transport)

    def attach(self, peer: Splice) -> None:
        self.peer = peer
        if self._pending and peer.transport is not None:
            peer.transport.write(bytes(self._pending))
            self._pending.clear()

    def data_received(self, data: bytes) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)
        else:
            self._pending += data

    def eof_received(self) -> bool:
        # A half-close crosses over and keeps this side open for the answer;
        # once both directions have ended, nothing will close the pair: close it.
        self.ended = True
        peer = self.peer
        if peer is None or peer.transport is None or peer.ended:
            if peer is not None and peer.transport is not None:
                peer.transport.close()
            return False
        if not peer.transport.can_write_eof():
            return False
        peer.transport.write_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


class _Peek(asyncio.Protocol):
    """The protocol of a freshly accepted connection, until it is routed."""

    def __init__(self, owner: OnePortListener) -> None:
        self._owner = owner
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's or asyncio's
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(_PEEK_TIMEOUT_S, transport.close)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        head = self._buffer[: len(PREFACE)]
        if PREFACE.startswith(head) and len(head) < len(PREFACE):
            return  # still a possible preface: wait for more
        self._cancel_timer()
        assert self._transport is not None
        if head == PREFACE:
            self._owner.route_grpc(self._transport, self._buffer)
        else:
            self._owner.route_http(self._transport, self._buffer)

    def eof_received(self) -> bool:
        self._cancel_timer()
        return False  # nothing decisive arrived: close

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class OnePortListener:
    """Accepts on the public port and routes each connection (see the module doc).

    ``grpc_target`` is the internal ``(host, port)`` of the gRPC server;
    ``http_protocol`` makes the gateway's protocol for one connection.
    """

    def __init__(
        self,
        grpc_target: tuple[str, int],
        http_protocol: Callable[[], asyncio.Protocol],
    ) -> None:
        self._grpc_target = grpc_target
        self._http_protocol = http_protocol
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0: a free port); returns the bound port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Peek(self), host, port)
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    def close(self) -> None:
        """Stop accepting; connections already routed carry on."""
        if self._server is not None:
            self._server.close()

    def route_http(self, transport: asyncio.Transport, head: bytes) -> None:
        protocol = self._http_protocol()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(head)

    def route_grpc(self, transport: asyncio.Transport, head: bytes) -> None:
        client = Splice()
        transport.set_protocol(client)
        client.connection_made(transport)
        client.data_received(head)  # kept until the upstream side is connected
        transport.pause_reading()  # the rest waits in the kernel meanwhile
        task = asyncio.ensure_future(self._connect(client))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, client: Splice) -> None:
        loop = asyncio.get_running_loop()
        assert client.transport is not None
        try:
            _, upstream = await loop.create_connection(Splice, *self._grpc_target)
        except OSError as exc:
            _log.warning("cannot reach the internal gRPC server: %s", exc)
            client.transport.close()
            return
        if client.transport.is_closing():
            upstream.transport.close()  # type: ignore[union-attr]
            return
        upstream.attach(client)
        client.attach(upstream)
        client.transport.resume_reading()
