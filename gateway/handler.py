"""Unary calls: forward the request message, render the response.

A successful call is 200, or what the service asked for with ``x-http-code``
metadata (grpc-gateway's convention; a feed's 304). The body is the response
message as JSON, or the field named by ``response_body``, or the raw bytes
of an ``HttpBody`` with its own Content-Type (``:export`` serves
``text/calendar`` this way). A response with an ``etag`` field also sends it
as the ``ETag`` header.
"""

from __future__ import annotations

import json

import grpc
from google.protobuf.message import Message

from gateway.asgi import Request, Send, send_response
from gateway.backends import Backends
from gateway.errors import GatewayError, from_rpc_error
from gateway.marshal import to_dict, to_json
from gateway.metadata import Incoming, http_code, outgoing_headers
from gateway.options import GatewayOptions
from gateway.routes import HTTP_BODY, Binding
from gateway.transcode import Transcoded

__all__ = ["call_unary", "rpc_failure"]

_ETAG_REASONS = frozenset({"ETAG_MISMATCH", "ABORTED"})


def rpc_failure(err: grpc.aio.AioRpcError, etag_from_header: bool) -> GatewayError:
    """The HTTP error of a failed call, with the call's metadata as headers."""
    out = from_rpc_error(err)
    out.headers.extend(outgoing_headers(err.initial_metadata(), err.trailing_metadata()))
    if etag_from_header and out.code is grpc.StatusCode.ABORTED and out.reason() in _ETAG_REASONS:
        # The one status the table does not decide: an If-Match that failed
        # is an HTTP precondition (see gateway.errors).
        out.status_override = 412
    return out


def _render(binding: Binding, response: Message) -> tuple[bytes, bytes, str]:
    """Body, Content-Type and ETag of a response."""
    target = response
    if binding.response_body:
        fd = response.DESCRIPTOR.fields_by_name[binding.response_body]
        mt = fd.message_type
        if mt is None or fd.is_repeated:
            value = to_dict(response).get(fd.json_name)
            return json.dumps(value, separators=(",", ":")).encode(), b"application/json", ""
        target = getattr(response, fd.name)
    if target.DESCRIPTOR.full_name == HTTP_BODY:
        content_type = target.content_type or "application/octet-stream"  # type: ignore[attr-defined]
        return bytes(target.data), content_type.encode("latin-1"), ""  # type: ignore[attr-defined]
    etag = ""
    if "etag" in target.DESCRIPTOR.fields_by_name:
        etag = str(target.etag)  # type: ignore[attr-defined]
    return to_json(target), b"application/json", etag


async def call_unary(
    backends: Backends,
    options: GatewayOptions,
    request: Request,
    send: Send,
    binding: Binding,
    transcoded: Transcoded,
    incoming: Incoming,
) -> None:
    timeout = incoming.timeout if incoming.timeout is not None else options.default_timeout
    call = backends.unary(binding.method, transcoded.message)(
        transcoded.message, metadata=incoming.metadata, timeout=timeout
    )
    try:
        response = await call
    except grpc.aio.AioRpcError as err:
        raise rpc_failure(err, transcoded.etag_from_header) from None
    initial = await call.initial_metadata()
    headers = outgoing_headers(initial, await call.trailing_metadata())
    status = http_code(initial)
    body, content_type, etag = _render(binding, response)
    if etag:
        headers.append((b"etag", etag.encode("latin-1")))
    if status in (204, 304):
        body = b""  # RFC 9110: neither may have content
    await send_response(
        send, request, status, body, content_type, headers, gzip_min=options.gzip_min_bytes
    )
