"""CORS: which browser origins may call the API, and the preflight answer.

Off unless origins are configured. Allowed origins get their own origin
echoed (never ``*`` with credentials), and the headers a client needs to
read (ETag, X-Request-Id, Retry-After, Grpc-Metadata-*) are exposed.
"""

from __future__ import annotations

from gateway.asgi import Request, Send

__all__ = ["Cors"]

_ALLOW_HEADERS = (
    b"authorization, content-type, if-match, x-request-id, traceparent, tracestate, "
    b"grpc-timeout, last-event-id"
)
_EXPOSE = b"etag, x-request-id, retry-after, www-authenticate"


class Cors:
    def __init__(self, origins: tuple[str, ...]) -> None:
        self.any = "*" in origins
        self.origins = frozenset(o.encode() for o in origins if o != "*")
        self.enabled = bool(origins)

    def apply(self, request: Request) -> bool:
        """Add the CORS headers if the request's origin is allowed; whether it is."""
        origin = request.header(b"origin")
        if origin is None or not (self.any or origin in self.origins):
            return False
        request.extra_headers += [
            (b"access-control-allow-origin", origin),
            (b"access-control-expose-headers", _EXPOSE),
            (b"vary", b"origin"),
        ]
        return True

    async def preflight(self, request: Request, send: Send, allowed: list[str]) -> None:
        requested = request.header(b"access-control-request-headers")
        headers = [
            *request.extra_headers,
            (b"access-control-allow-methods", ", ".join(allowed or ["GET"]).encode()),
            # Echo what was asked: Grpc-Metadata-* names cannot be listed up front.
            (b"access-control-allow-headers", requested or _ALLOW_HEADERS),
            (b"access-control-max-age", b"600"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
