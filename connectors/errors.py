"""The one error tree every connector raises.

Connectors translate their backend's failures (HTTP statuses, CalDAV
responses, SQL constraint violations, ...) into these classes, so services
never see a backend-specific exception and the gRPC layer
(`services.runtime.errors`) maps each class to exactly one status code::

    ConnectorError
     ├── NotFound
     ├── AlreadyExists
     ├── EtagMismatch            the caller's etag is stale (AIP-154): ABORTED
     ├── FailedPrecondition      the resource's state forbids it: FAILED_PRECONDITION
     │    └── SyncTokenExpired   (connectors.remote) the upstream forgot a change token
     ├── OutOfRange              past the end of something, e.g. a series: OUT_OF_RANGE
     ├── PermissionDenied
     ├── Unauthenticated
     ├── RateLimited             retry_after: float | None (seconds)
     ├── Unavailable             retry_after too
     ├── Unsupported             the backend cannot do this at all
     └── InvalidArgument         violations: list[(field path, description)]

Every error carries a client-facing ``message``, an optional ``reason``
(UPPER_SNAKE; becomes ``google.rpc.ErrorInfo.reason``, so it is part of the
API contract and must never change once shipped) and string ``metadata``
(becomes ``ErrorInfo.metadata``). Messages are shown to API clients: never put
credentials, SQL or backend stack traces in them.

This module deliberately does not import grpc: connectors stay usable (and
testable) without the server runtime.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = [
    "AlreadyExists",
    "ConnectorError",
    "EtagMismatch",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "RateLimited",
    "Unauthenticated",
    "Unavailable",
    "Unsupported",
]

# AIP-193: reason is UPPER_SNAKE, at most 63 characters; metadata keys are
# lowerCamel-ish. Checked at construction so a bad literal fails in tests,
# not as a malformed ErrorInfo in production.
_REASON_RE = re.compile(r"[A-Z][A-Z0-9_]{0,61}[A-Z0-9]")
_METADATA_KEY_RE = re.compile(r"[a-z][a-zA-Z0-9\-_]+")


class ConnectorError(Exception):
    """Base class of every error a connector raises.

    Raised as-is it means "the backend failed in a way we cannot classify";
    prefer a subclass whenever the cause is known.
    """

    def __init__(
        self,
        message: str = "",
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        if reason is not None and not _REASON_RE.fullmatch(reason):
            raise ValueError(f"error reason must be UPPER_SNAKE (AIP-193), got {reason!r}")
        md = dict(metadata) if metadata else {}
        for key, value in md.items():
            if not _METADATA_KEY_RE.fullmatch(key) or not isinstance(value, str):
                raise ValueError(f"bad error metadata entry {key!r}: {value!r}")
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.metadata = md

    def __repr__(self) -> str:
        extra = f", reason={self.reason!r}" if self.reason else ""
        return f"{type(self).__name__}({self.message!r}{extra})"


class NotFound(ConnectorError):
    """The addressed resource does not exist (or the caller may not know it does)."""


class AlreadyExists(ConnectorError):
    """A create collided with an existing resource of the same name."""


class FailedPrecondition(ConnectorError):
    """The resource is not in a state that allows the operation (for example
    deleting the primary calendar). Not for etag mismatches: see EtagMismatch."""


class OutOfRange(ConnectorError):
    """A position past the end of a sequence, such as instance 12 of a 10-instance series."""


class EtagMismatch(ConnectorError):
    """The supplied etag no longer matches the stored resource (AIP-154)."""


class PermissionDenied(ConnectorError):
    """The credentials are valid but do not allow this operation."""


class Unauthenticated(ConnectorError):
    """Credentials are missing, invalid, revoked or expired."""


class _Retryable(ConnectorError):
    """An error that may pass: ``retry_after`` (seconds) says when to try again."""

    def __init__(
        self,
        message: str = "",
        *,
        retry_after: float | None = None,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        if retry_after is not None and retry_after < 0:
            raise ValueError(f"retry_after must not be negative, got {retry_after}")
        super().__init__(message, reason=reason, metadata=metadata)
        self.retry_after = retry_after


class RateLimited(_Retryable):
    """The backend (or Almanac itself) throttled the request."""


class Unavailable(_Retryable):
    """The backend cannot be reached right now; retrying later may succeed."""


class Unsupported(ConnectorError):
    """The backend cannot perform this operation at all."""


class InvalidArgument(ConnectorError):
    """The request is malformed; ``violations`` names every bad field."""

    def __init__(
        self,
        message: str = "",
        *,
        violations: Iterable[tuple[str, str]] = (),
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.violations: list[tuple[str, str]] = [(str(f), str(d)) for f, d in violations]
        super().__init__(message or _summarize(self.violations), reason=reason, metadata=metadata)


def _summarize(violations: list[tuple[str, str]]) -> str:
    # The status message is what most humans read (gateway JSON, grpcurl),
    # so it lists the fields rather than saying only "invalid argument".
    if not violations:
        return "invalid argument"
    parts = "; ".join(f"{field}: {desc}" if field else desc for field, desc in violations)
    return f"invalid argument: {parts}"
