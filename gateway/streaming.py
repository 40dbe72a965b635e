"""Server streams over HTTP/1.1 chunked responses: NDJSON, or SSE on request.

NDJSON (the default) is grpc-gateway's form: one ``{"result": <message>}``
per line, and a final ``{"error": <status>}`` line if the stream fails
after it started. With ``Accept: text/event-stream`` the same messages are
Server-Sent Events whose ``id:`` is the message's cursor, so a browser's
``EventSource`` resumes with ``Last-Event-ID`` (which the request building
puts into the request's ``cursor``); a failure is an ``event: error``.
Heartbeats are messages of the stream and pass through, which also keeps
proxies from closing an idle connection.

The 200 headers wait for the first message for a short while
(``stream_commit_seconds``), so that an error the service finds at once (a
bad token, an expired cursor) gets its own HTTP status. A client that goes
away cancels the gRPC call at once, from a task watching ``receive()``:
uvicorn silently drops what is sent to a closed connection, so without the
watcher an idle stream would live on until its next failed heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import OrderedDict
from functools import cache
from typing import Any

import grpc
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message

from gateway.asgi import Request, Send, send_error
from gateway.backends import Backends
from gateway.errors import GatewayError, error_body
from gateway.handler import rpc_failure
from gateway.marshal import to_dict
from gateway.metadata import Incoming, outgoing_headers
from gateway.options import GatewayOptions
from gateway.routes import Binding
from gateway.transcode import Transcoded

__all__ = ["call_stream", "wants_sse"]

_SEP = (",", ":")


def wants_sse(request: Request) -> bool:
    accept = request.header(b"accept")
    return accept is not None and b"text/event-stream" in accept


@cache
def _cursor_paths(descriptor: Descriptor) -> tuple[tuple[str, ...], ...]:
    """Where a message of this type may carry its cursor: itself or a oneof member."""
    paths: list[tuple[str, ...]] = []
    if "cursor" in descriptor.fields_by_name:
        paths.append(("cursor",))
    for fd in descriptor.fields:
        mt = fd.message_type
        if fd.containing_oneof is not None and mt is not None and "cursor" in mt.fields_by_name:
            paths.append((fd.name, "cursor"))
    return tuple(paths)


def _cursor(message: Message) -> str:
    for path in _cursor_paths(message.DESCRIPTOR):
        if len(path) == 2 and not message.HasField(path[0]):
            continue
        value: Any = message
        for part in path:
            value = getattr(value, part)
        if value:
            return str(value)
    return ""


# Rendered frames by (wire bytes, SSE?): a change fanned out to many streams
# is parsed and turned into JSON once, not once per stream.
_RENDERED: OrderedDict[tuple[bytes, bool], bytes] = OrderedDict()
_RENDERED_MAX = 2048


class _Writer:
    """Frames messages and errors for one response format."""

    def __init__(self, sse: bool, message_class: type[Message]) -> None:
        self.sse = sse
        self.message_class = message_class
        self.content_type = b"text/event-stream" if sse else b"application/x-ndjson"

    def raw(self, data: bytes) -> bytes:
        """The frame of one message as it came off the wire (cached)."""
        key = (data, self.sse)
        frame = _RENDERED.get(key)
        if frame is None:
            frame = self.message(self.message_class.FromString(data))
            _RENDERED[key] = frame
            if len(_RENDERED) > _RENDERED_MAX:
                _RENDERED.popitem(last=False)
        return frame

    def preamble(self) -> bytes:
        # A reconnect delay for EventSource; NDJSON has no preamble.
        return b"retry: 2000\n\n" if self.sse else b""

    def message(self, message: Message) -> bytes:
        payload = to_dict(message)
        if not self.sse:
            return json.dumps({"result": payload}, separators=_SEP).encode() + b"\n"
        data = json.dumps(payload, separators=_SEP)
        cursor = _cursor(message)
        head = f"id: {cursor}\n" if cursor else ""
        return f"{head}data: {data}\n\n".encode()

    def error(self, err: GatewayError) -> bytes:
        body = error_body(err)
        if not self.sse:
            return body + b"\n"
        return b"event: error\ndata: " + body + b"\n\n"


async def _watch_disconnect(request: Request, call: Any) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            call.cancel()
            return


async def call_stream(
    backends: Backends,
    options: GatewayOptions,
    request: Request,
    send: Send,
    binding: Binding,
    transcoded: Transcoded,
    incoming: Incoming,
) -> None:
    # No default deadline: a stream lives as long as its client wants it.
    call = backends.stream(binding.method)(
        transcoded.message, metadata=incoming.metadata, timeout=incoming.timeout
    )
    watcher = asyncio.ensure_future(_watch_disconnect(request, call))
    try:
        writer = _Writer(wants_sse(request), binding.method.output_class)
        await _relay(options, request, send, call, writer)
    finally:
        watcher.cancel()
        call.cancel()  # a no-op once the call has ended
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _relay(
    options: GatewayOptions, request: Request, send: Send, call: Any, writer: _Writer
) -> None:
    first = asyncio.ensure_future(call.read())
    await asyncio.wait({first}, timeout=options.stream_commit_seconds)
    if first.done() and isinstance(first.exception(), grpc.aio.AioRpcError):
        err = first.exception()
        assert isinstance(err, grpc.aio.AioRpcError)
        await send_error(send, request, rpc_failure(err, False))
        return
    headers = [
        (b"content-type", writer.content_type),
        (b"cache-control", b"no-cache"),
        # Ask nginx-like proxies not to buffer the stream.
        (b"x-accel-buffering", b"no"),
        *request.extra_headers,
    ]
    if first.done():
        headers += outgoing_headers(await call.initial_metadata(), None)
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await _chunk(send, writer.preamble())
    pending: asyncio.Future[Any] = first
    while True:
        try:
            item = await pending
        except grpc.aio.AioRpcError as err:
            await _chunk(send, writer.error(rpc_failure(err, False)))
            break
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the gateway itself is stopping this request
            return  # the watcher cancelled the call: the client is gone
        if item is grpc.aio.EOF:
            break
        await _chunk(send, writer.raw(item))
        pending = asyncio.ensure_future(call.read())
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _chunk(send: Send, data: bytes) -> None:
    if data:
        await send({"type": "http.response.body", "body": data, "more_body": True})
