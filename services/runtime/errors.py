"""Errors → ``google.rpc.Status``: the one status table of the suite.

Servicers raise; they never call ``context.abort`` themselves. Connector
errors (`connectors.errors`) and `ServiceError` (for conditions that are not a
backend's, such as FAILED_PRECONDITION or OUT_OF_RANGE) are converted here by
`to_status`, which the error-mapping interceptor sends with
``abort_with_status``. Every status carries exactly one ``google.rpc.ErrorInfo``
(domain ``almanac.dev``, AIP-193) and at most one detail of any other type.

Anything else that escapes a handler becomes INTERNAL with a fixed message:
exception text may contain SQL, paths or tokens and is only logged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from connectors import errors as ce

__all__ = [
    "DOMAIN",
    "INTERNAL_MESSAGE",
    "STATUS_TABLE",
    "BadRequestBuilder",
    "ServiceError",
    "StatusRule",
    "code_of",
    "grpc_code",
    "to_status",
]

DOMAIN = "almanac.dev"
INTERNAL_MESSAGE = "internal error"

_REASON_RE = re.compile(r"[A-Z][A-Z0-9_]{0,61}[A-Z0-9]")


@dataclass(frozen=True, slots=True)
class StatusRule:
    """How one exception class is reported."""

    code: grpc.StatusCode
    reason: str  # default ErrorInfo.reason when the exception names none


# Looked up along the exception's MRO, so a connector's own subclass (say
# `class EventNotFound(NotFound)`) inherits its parent's row.
STATUS_TABLE: Mapping[type[Exception], StatusRule] = {
    ce.NotFound: StatusRule(grpc.StatusCode.NOT_FOUND, "NOT_FOUND"),
    ce.AlreadyExists: StatusRule(grpc.StatusCode.ALREADY_EXISTS, "ALREADY_EXISTS"),
    # AIP-154: an etag mismatch is ABORTED (409), not FAILED_PRECONDITION.
    ce.EtagMismatch: StatusRule(grpc.StatusCode.ABORTED, "ETAG_MISMATCH"),
    ce.FailedPrecondition: StatusRule(grpc.StatusCode.FAILED_PRECONDITION, "FAILED_PRECONDITION"),
    ce.OutOfRange: StatusRule(grpc.StatusCode.OUT_OF_RANGE, "OUT_OF_RANGE"),
    ce.PermissionDenied: StatusRule(grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED"),
    ce.Unauthenticated: StatusRule(grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED"),
    ce.RateLimited: StatusRule(grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED"),
    ce.Unavailable: StatusRule(grpc.StatusCode.UNAVAILABLE, "BACKEND_UNAVAILABLE"),
    ce.Unsupported: StatusRule(grpc.StatusCode.UNIMPLEMENTED, "UNSUPPORTED"),
    ce.InvalidArgument: StatusRule(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
    # An unclassified backend failure: the connector chose the message for
    # clients, so it is kept, unlike a stray Python exception.
    ce.ConnectorError: StatusRule(grpc.StatusCode.INTERNAL, "BACKEND_ERROR"),
}

_INTERNAL = StatusRule(grpc.StatusCode.INTERNAL, "INTERNAL")

_BY_NUMBER: dict[int, grpc.StatusCode] = {c.value[0]: c for c in grpc.StatusCode}


class ServiceError(Exception):
    """An error raised by a servicer that is not a connector's.

    ``details`` are extra ``google.rpc`` detail messages (PreconditionFailure,
    QuotaFailure, Help, ...); an ErrorInfo among them replaces the generated
    one. The default reason is the code's name, e.g. FAILED_PRECONDITION.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        details: Sequence[Message] = (),
    ) -> None:
        if code is grpc.StatusCode.OK:
            raise ValueError("ServiceError needs a non-OK status code")
        if reason is not None and not _REASON_RE.fullmatch(reason):
            raise ValueError(f"error reason must be UPPER_SNAKE (AIP-193), got {reason!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or code.name
        self.metadata = dict(metadata) if metadata else {}
        self.details = tuple(details)

    def __repr__(self) -> str:
        return f"ServiceError({self.code.name}, {self.message!r}, reason={self.reason!r})"


def _rule_for(exc: BaseException) -> StatusRule | None:
    for cls in type(exc).__mro__:
        rule = STATUS_TABLE.get(cls)
        if rule is not None:
            return rule
    return None


def grpc_code(number: int) -> grpc.StatusCode:
    """The `grpc.StatusCode` of a numeric code (UNKNOWN if out of range)."""
    return _BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)


def code_of(exc: BaseException) -> grpc.StatusCode:
    """The status code `to_status` would report for ``exc``, without building it."""
    if isinstance(exc, ServiceError):
        return exc.code
    rule = _rule_for(exc)
    return rule.code if rule is not None else grpc.StatusCode.INTERNAL


def _pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _error_info(reason: str, metadata: Mapping[str, str]) -> error_details_pb2.ErrorInfo:
    return error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata=dict(metadata))


def _retry_delay(seconds: float) -> duration_pb2.Duration:
    whole = math.floor(seconds)
    return duration_pb2.Duration(seconds=whole, nanos=round((seconds - whole) * 1e9))


def to_status(exc: BaseException) -> status_pb2.Status:
    """The ``google.rpc.Status`` reported to clients for ``exc``.

    Send it with ``grpc_status.rpc_status.to_status`` so that code and
    message in the trailer match the rich status exactly (clients'
    ``rpc_status.from_call`` rejects a mismatch).
    """
    details: list[Message] = []
    code: grpc.StatusCode
    if isinstance(exc, ServiceError):
        code, message, reason, metadata = exc.code, exc.message, exc.reason, exc.metadata
        details.extend(exc.details)
    elif isinstance(exc, ce.ConnectorError):
        rule = _rule_for(exc) or _INTERNAL
        code, message = rule.code, exc.message or rule.code.name.replace("_", " ").lower()
        reason, metadata = exc.reason or rule.reason, exc.metadata
        if isinstance(exc, ce.RateLimited | ce.Unavailable) and exc.retry_after is not None:
            details.append(error_details_pb2.RetryInfo(retry_delay=_retry_delay(exc.retry_after)))
        if isinstance(exc, ce.InvalidArgument) and exc.violations:
            details.append(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                        for f, d in exc.violations
                    ]
                )
            )
    else:
        code, message, reason, metadata = _INTERNAL.code, INTERNAL_MESSAGE, _INTERNAL.reason, {}

    if not any(isinstance(d, error_details_pb2.ErrorInfo) for d in details):
        details.insert(0, _error_info(reason, metadata))
    return status_pb2.Status(
        code=code.value[0], message=message, details=[_pack(d) for d in details]
    )


class BadRequestBuilder:
    """Collects every field violation of a request, then raises them at once.

    >>> bad = BadRequestBuilder()
    >>> bad.check(request.page_size >= 0, "page_size", "must not be negative")
    >>> bad.add("event.start", "is required")
    >>> bad.raise_if_any()  # InvalidArgument with both violations
    """

    __slots__ = ("_violations",)

    def __init__(self) -> None:
        self._violations: list[tuple[str, str]] = []

    def add(self, field: str, description: str) -> None:
        """Record that ``field`` (a dotted path, e.g. ``event.start.time_zone``) is bad."""
        self._violations.append((field, description))

    def check(self, ok: bool, field: str, description: str) -> bool:
        """Record a violation unless ``ok``; returns ``ok`` for chaining checks."""
        if not ok:
            self.add(field, description)
        return ok

    def extend(self, violations: Iterable[tuple[str, str]], prefix: str = "") -> None:
        """Add violations found by a nested validator, under ``prefix.``."""
        for field, description in violations:
            self.add(f"{prefix}.{field}" if prefix and field else prefix or field, description)

    @property
    def violations(self) -> list[tuple[str, str]]:
        return list(self._violations)

    def __bool__(self) -> bool:
        return bool(self._violations)

    def __len__(self) -> int:
        return len(self._violations)

    def raise_if_any(self, message: str = "", *, reason: str | None = None) -> None:
        """Raise `connectors.errors.InvalidArgument` naming every violation, if any."""
        if self._violations:
            raise ce.InvalidArgument(message, violations=self._violations, reason=reason)
