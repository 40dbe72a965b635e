"""HTTP headers ↔ gRPC metadata (grpc-gateway's ``runtime/context.go``).

In: ``Authorization`` as is; ``Grpc-Metadata-Foo`` as ``foo`` (the prefix is
stripped, as grpc-gateway's code does; ``-bin`` values are base64);
``X-Request-Id``, ``traceparent`` and ``tracestate`` as is, so the service
logs the caller's id and its span joins the caller's W3C trace;
``X-Forwarded-For`` gets the client's address appended and
``X-Forwarded-Host`` is set; ``Grpc-Timeout`` is the deadline.

Out: the service's headers as ``Grpc-Metadata-<key>`` and its trailers as
``Grpc-Trailer-<key>`` (HTTP/1.1 responses are sent after the call ends, so
trailers can be headers), ``x-request-id`` as ``X-Request-Id``, an ``etag``
header as ``ETag``, and ``x-http-code`` (grpc-gateway's convention for a
success other than 200, such as 304) as the status, not as a header.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence

from gateway.errors import bad_request
from gateway.values import parse_grpc_timeout

__all__ = ["Incoming", "http_code", "incoming_metadata", "outgoing_headers"]

_PREFIX = b"grpc-metadata-"
_AS_IS = frozenset({b"authorization", b"x-request-id", b"traceparent", b"tracestate"})
# Never copied from a client: they are the transport's own or would let a
# client forge what the gateway asserts.
_RESERVED = re.compile(r"^(grpc-|:|content-type$|te$|user-agent$|host$|connection$)")
_VALID_KEY = re.compile(r"^[0-9a-z_.\-]+$")
_HIDDEN_OUT = frozenset(
    {"grpc-status-details-bin", "content-type", "x-request-id", "x-http-code", "etag"}
)
# Statuses a service may ask for with x-http-code: successes that carry no
# error (an error is a gRPC status and goes through the status table).
_SUCCESS_CODES = frozenset({200, 201, 202, 204, 304})

Metadata = list[tuple[str, str | bytes]]


class Incoming:
    """What the headers of one request mean to the gRPC call."""

    __slots__ = ("if_match", "if_none_match", "last_event_id", "metadata", "timeout")

    def __init__(self) -> None:
        self.metadata: Metadata = []
        self.timeout: float | None = None
        self.if_match: str | None = None
        self.if_none_match: str | None = None
        self.last_event_id: str | None = None


def _text(value: bytes) -> str:
    # Header values are ISO-8859-1 on the wire; non-ASCII is dropped (as
    # grpc-gateway does) because gRPC metadata values must be ASCII.
    return value.decode("latin-1")


def incoming_metadata(
    headers: Sequence[tuple[bytes, bytes]],
    client: str | None,
    host: str | None,
    access_token: str | None = None,
) -> Incoming:
    """Translate request headers (lower-case names, as ASGI gives them).

    ``access_token`` is the RFC 6750 (2.3) query parameter, used only when no
    ``Authorization`` header came: a browser's EventSource cannot send headers.
    """
    out = Incoming()
    forwarded_for = ""
    for name, value in headers:
        if name in _AS_IS:
            if value.isascii():
                out.metadata.append((name.decode(), _text(value)))
        elif name.startswith(_PREFIX):
            _custom(out.metadata, name[len(_PREFIX) :].decode("latin-1"), value)
        elif name == b"grpc-timeout":
            seconds = parse_grpc_timeout(_text(value))
            if seconds is None:
                raise bad_request([("Grpc-Timeout", "expected e.g. 10S or 500m")], "BAD_TIMEOUT")
            out.timeout = seconds
        elif name == b"if-match":
            out.if_match = _text(value).strip()
        elif name == b"if-none-match":
            out.if_none_match = _text(value).strip()
        elif name == b"last-event-id":
            out.last_event_id = _text(value).strip()
        elif name == b"x-forwarded-for":
            forwarded_for = _text(value)
    if access_token and not any(k == "authorization" for k, _ in out.metadata):
        out.metadata.append(("authorization", f"Bearer {access_token}"))
    if client:
        forwarded_for = f"{forwarded_for}, {client}" if forwarded_for else client
    if forwarded_for:
        out.metadata.append(("x-forwarded-for", forwarded_for))
    if host:
        out.metadata.append(("x-forwarded-host", host))
    return out


def _custom(metadata: Metadata, key: str, value: bytes) -> None:
    key = key.lower()
    if not key or _RESERVED.match(key) or not _VALID_KEY.match(key):
        return
    if key.endswith("-bin"):
        try:
            metadata.append((key, base64.b64decode(value + b"=" * (-len(value) % 4))))
        except (binascii.Error, ValueError):
            raise bad_request([(f"Grpc-Metadata-{key}", "expected base64")], "BAD_HEADER") from None
    elif value.isascii():
        metadata.append((key, _text(value)))


def _encode(value: str | bytes) -> bytes:
    if isinstance(value, bytes):
        return base64.b64encode(value)
    return value.encode("latin-1", "replace")


def outgoing_headers(
    initial: Iterable[tuple[str, str | bytes]] | None,
    trailing: Iterable[tuple[str, str | bytes]] | None,
) -> list[tuple[bytes, bytes]]:
    """Response headers for the metadata of a finished (or started) call."""
    out: list[tuple[bytes, bytes]] = []
    request_id: str | bytes | None = None
    for prefix, entries in ((b"grpc-metadata-", initial), (b"grpc-trailer-", trailing)):
        for key, value in entries or ():
            if key == "x-request-id":
                request_id = value
            if key == "etag" and prefix == b"grpc-metadata-":
                out.append((b"etag", _encode(value)))
            if key in _HIDDEN_OUT:
                continue
            out.append((prefix + key.encode("latin-1"), _encode(value)))
    if request_id is not None:
        out.append((b"x-request-id", _encode(request_id)))
    return out


def http_code(initial: Iterable[tuple[str, str | bytes]] | None) -> int:
    """The status a successful call asked for (``x-http-code``), else 200."""
    for key, value in initial or ():
        if key == "x-http-code":
            text = value.decode() if isinstance(value, bytes) else value
            if text.isdigit() and int(text) in _SUCCESS_CODES:
                return int(text)
    return 200
