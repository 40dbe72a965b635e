"""The one-port listener on its own: routing by the first bytes, and a splice
that carries large payloads both ways intact, on asyncio's loop and on uvloop.

The "gRPC server" here is a TCP echo server and the "gateway" a protocol that
records what it got: the routing and the byte pipe are what is under test.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop

from services.single.port import PREFACE, OnePortListener


class _Recorder(asyncio.Protocol):
    """Stands in for uvicorn's protocol: keeps the bytes, answers once."""

    instances: list[_Recorder] = []

    def __init__(self) -> None:
        self.data = b""
        self.transport: asyncio.Transport | None = None
        _Recorder.instances.append(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.data += data
        if self.data.endswith(b"\r\n\r\n") and self.transport is not None:
            self.transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while chunk := await reader.read(1 << 16):
        writer.write(chunk)
        await writer.drain()
    writer.close()


async def _listener() -> tuple[OnePortListener, int, asyncio.Server]:
    upstream = await asyncio.start_server(_echo, "127.0.0.1", 0)
    target = upstream.sockets[0].getsockname()[:2]
    listener = OnePortListener(target, _Recorder)
    port = await listener.start("127.0.0.1", 0)
    return listener, port, upstream


async def _large_payload_round_trip() -> None:
    listener, port, upstream = await _listener()
    payload = PREFACE + os.urandom(8 << 20)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send() -> None:
        for i in range(0, len(payload), 1 << 20):  # in pieces, as a client streams
            writer.write(payload[i : i + (1 << 20)])
            await writer.drain()
        writer.write_eof()

    sender = asyncio.ensure_future(send())
    received = await asyncio.wait_for(reader.read(-1), 60)  # until the echo's EOF
    await sender
    writer.close()
    await writer.wait_closed()
    assert len(received) == len(payload)
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
    listener.close()
    upstream.close()
    await upstream.wait_closed()
    await asyncio.sleep(0.2)  # the splice's own close callbacks run before the loop ends


async def _http_goes_to_the_gateway_protocol() -> None:
    _Recorder.instances.clear()
    listener, port, upstream = await _listener()
    # "PRI" is the preface's start too: the route is decided at the first
    # byte that differs ("PRIX"), and every byte reaches the protocol.
    request = b"PRIX / HTTP/1.1\r\nHost: x\r\n\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for byte in request[:6]:  # byte by byte while the route is undecided
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.01)
    writer.write(request[6:])
    reply = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert reply.startswith(b"HTTP/1.1 204")
    assert [r.data for r in _Recorder.instances] == [request]
    writer.close()
    await writer.wait_closed()
    for recorder in _Recorder.instances:
        assert recorder.transport is not None
        recorder.transport.close()
    listener.close()
    upstream.close()
    await upstream.wait_closed()
    await asyncio.sleep(0.2)  # the splice's own close callbacks run before the loop ends


def _run(loop: str, coro: Callable[[], Coroutine[Any, Any, None]]) -> None:
    if loop == "uvloop":
        uvloop.run(coro())
    else:
        asyncio.run(coro())


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_grpc_bytes_are_spliced_intact_both_ways(loop: str) -> None:
    _run(loop, _large_payload_round_trip)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_http_is_handed_over_with_the_peeked_bytes(loop: str) -> None:
    _run(loop, _http_goes_to_the_gateway_protocol)
