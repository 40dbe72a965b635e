"""The few ASGI pieces the gateway needs: a request view and response senders.

Raw ASGI rather than a framework: the routes are the gateway's own (from
the descriptors), so a framework's router, request objects and middleware
stack would only add work to every request.
"""

from __future__ import annotations

import gzip
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import grpc

from gateway.errors import GatewayError, error_body, error_headers, gateway_error

__all__ = ["Receive", "Request", "Scope", "Send", "send_error", "send_response"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = b"application/json"
_INVALID = grpc.StatusCode.INVALID_ARGUMENT


class Request:
    """One HTTP request: method, raw path, query, headers (lower-case names)."""

    __slots__ = ("extra_headers", "headers", "method", "query", "raw_path", "receive", "scope")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        raw = scope.get("raw_path")
        self.raw_path: str = raw.decode("latin-1").split("?", 1)[0] if raw else scope["path"]
        self.query: bytes = scope.get("query_string", b"")
        self.headers: list[tuple[bytes, bytes]] = scope["headers"]
        # Headers every response to this request carries (CORS).
        self.extra_headers: list[tuple[bytes, bytes]] = []

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def client(self) -> str | None:
        client = self.scope.get("client")
        return str(client[0]) if client else None

    def accepts_gzip(self) -> bool:
        value = self.header(b"accept-encoding")
        return value is not None and b"gzip" in value

    async def body(self, limit: int) -> bytes:
        """The whole body; 413 past ``limit`` bytes."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise gateway_error(
                    _INVALID, f"the body is larger than {limit} bytes", "BODY_TOO_LARGE",
                    status_override=413,
                )  # fmt: skip
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


async def send_response(
    send: Send,
    request: Request,
    status: int,
    body: bytes,
    content_type: bytes = JSON,
    headers: list[tuple[bytes, bytes]] | None = None,
    gzip_min: int = 0,
) -> None:
    out = [(b"content-type", content_type), *request.extra_headers, *(headers or ())]
    if gzip_min and len(body) >= gzip_min and request.accepts_gzip():
        # Level 5: most of level 9's ratio on JSON at a fraction of the CPU.
        body = gzip.compress(body, compresslevel=5, mtime=0)
        out += [(b"content-encoding", b"gzip"), (b"vary", b"accept-encoding")]
    out.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, request: Request, err: GatewayError) -> None:
    await send_response(send, request, err.status, error_body(err), headers=error_headers(err))
