"""Errors → HTTP: the one gRPC-code → HTTP-status table and the JSON error body.

The body is the AIP-193 form of ``google.rpc.Status`` that Google's REST APIs
send: ``{"error": {"code": <HTTP status>, "message", "status": "NOT_FOUND",
"details": [{"@type": ..., ...}]}}``. The details are the service's own
(ErrorInfo, BadRequest, RetryInfo, ...), decoded from the
``grpc-status-details-bin`` trailer; errors the gateway finds itself (bad
JSON, unknown route) carry an ErrorInfo of domain ``almanac.dev`` too.

`HTTP_STATUS` is the whole table (``google/rpc/code.proto``, as grpc-gateway's
``HTTPStatusFromCode``). Two answers deliberately leave it, each named where
it is decided: a wrong method on a known path is 405 (grpc-gateway says 501),
and an etag mismatch is 412 when the etag came in an ``If-Match`` header,
because then the client made an HTTP conditional request (RFC 9110 13.1.1);
an etag sent in the JSON body stays ABORTED → 409 as AIP-154 says.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2, json_format
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

__all__ = [
    "DOMAIN",
    "HTTP_STATUS",
    "GatewayError",
    "bad_request",
    "error_body",
    "from_rpc_error",
    "http_status",
]

_log = logging.getLogger("almanac.gateway")

DOMAIN = "almanac.dev"

HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    # 499 "client closed request" (nginx): the caller went away, nobody reads it.
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    # Deliberately not 412: the state must change before a retry can succeed,
    # which is not what an HTTP precondition means (see the module doc).
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}

_BY_NUMBER = {c.value[0]: c for c in grpc.StatusCode}


def http_status(code: grpc.StatusCode) -> int:
    """The HTTP status of a gRPC code (500 for anything unknown)."""
    return HTTP_STATUS.get(code, 500)


@dataclass
class GatewayError(Exception):
    """An error answered to the HTTP client, from the gateway or from a service."""

    code: grpc.StatusCode
    message: str
    details: Sequence[any_pb2.Any] = ()
    status_override: int | None = None  # only the two exceptions of the module doc
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    @property
    def status(self) -> int:
        return self.status_override or http_status(self.code)

    def detail(self, kind: type[Message]) -> Message | None:
        """The first detail of this type, unpacked, or None."""
        for packed in self.details:
            if packed.TypeName() == kind.DESCRIPTOR.full_name:
                msg = kind()
                packed.Unpack(msg)
                return msg
        return None

    def reason(self) -> str:
        info = self.detail(error_details_pb2.ErrorInfo)
        return str(info.reason) if isinstance(info, error_details_pb2.ErrorInfo) else ""


def _pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def gateway_error(
    code: grpc.StatusCode,
    message: str,
    reason: str,
    extra: Iterable[Message] = (),
    status_override: int | None = None,
) -> GatewayError:
    """An error found by the gateway itself, with its ErrorInfo."""
    info = error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN)
    details = [_pack(info), *(_pack(m) for m in extra)]
    return GatewayError(code, message, details, status_override)


def bad_request(violations: Sequence[tuple[str, str]], reason: str = "BAD_REQUEST") -> GatewayError:
    """INVALID_ARGUMENT naming every bad field, as the services report it."""
    message = "; ".join(f"{f}: {d}" if f else d for f, d in violations)
    detail = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
            for f, d in violations
        ]
    )
    return gateway_error(grpc.StatusCode.INVALID_ARGUMENT, message, reason, [detail])


def from_rpc_error(err: grpc.aio.AioRpcError) -> GatewayError:
    """The service's own status, rich details included."""
    code = err.code()
    message = err.details() or ""
    details: Sequence[any_pb2.Any] = ()
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            details = list(status.details)
            message = status.message or message
    return GatewayError(code, message, details)


def _detail_json(packed: any_pb2.Any) -> dict[str, object]:
    try:
        return json_format.MessageToDict(packed)
    except (TypeError, KeyError, json_format.Error):
        # A detail type the gateway has no descriptor for: still say what it is.
        return {"@type": packed.type_url, "value": base64.b64encode(packed.value).decode()}


def error_body(err: GatewayError) -> bytes:
    """The JSON body of an error response."""
    body = {
        "error": {
            "code": err.status,
            "message": err.message,
            "status": err.code.name,
            "details": [_detail_json(d) for d in err.details],
        }
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def error_headers(err: GatewayError) -> list[tuple[bytes, bytes]]:
    """Headers an error implies: WWW-Authenticate on 401, Retry-After from RetryInfo."""
    headers = list(err.headers)
    if err.code is grpc.StatusCode.UNAUTHENTICATED:
        headers.append((b"www-authenticate", b'Bearer realm="almanac"'))
    retry = err.detail(error_details_pb2.RetryInfo)
    if isinstance(retry, error_details_pb2.RetryInfo) and retry.HasField("retry_delay"):
        seconds = retry.retry_delay.seconds + (1 if retry.retry_delay.nanos else 0)
        headers.append((b"retry-after", str(max(seconds, 0)).encode()))
    return headers


def grpc_code(number: int) -> grpc.StatusCode:
    return _BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)
