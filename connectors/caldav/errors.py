"""HTTP answers of a DAV server -> `connectors.errors`, at one boundary.

::

    401                      Unauthenticated (UPSTREAM_CREDENTIALS_REJECTED)
    403 valid-sync-token     SyncTokenExpired (Radicale's answer to an old token)
    403 (other)              PermissionDenied (UPSTREAM_FORBIDDEN)
    404 / 410                NotFound
    409 no-uid-conflict      AlreadyExists (UID_CONFLICT)
    409 (other)              FailedPrecondition (UPSTREAM_CONFLICT)
    412 on sync-collection   SyncTokenExpired (Xandikos)
    412 (other)              EtagMismatch (UPSTREAM_ETAG_MISMATCH)
    413                      InvalidArgument (too large for the server)
    415 / 400 / 422          InvalidArgument (the server refused the data)
    423                      Unavailable (locked; retry)
    429                      RateLimited, with Retry-After
    5xx, timeouts, refused   Unavailable, with Retry-After when sent
    malformed XML or ICS     Unavailable (UPSTREAM_MALFORMED)

Messages name the status and the operation, never the URL's credentials or
the server's body beyond a short excerpt.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from connectors import errors
from connectors.remote import SyncTokenExpired

from .davxml import CAL, CARD, DAV, error_conditions, q

__all__ = ["malformed", "mapped", "retry_after", "unreachable"]

_SYNC_TOKEN = q(DAV, "valid-sync-token")
_UID_CONFLICT = {q(CAL, "no-uid-conflict"), q(CARD, "no-uid-conflict")}


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), None if absent or bad."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _excerpt(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ") if response.content else ""
    return f": {text[:120]}" if text and "<html" not in text[:200].lower() else ""


def mapped(response: httpx.Response, op: str, *, syncing: bool = False) -> errors.ConnectorError:
    """The error for a failed ``response`` of operation ``op`` (e.g. "PUT event")."""
    status = response.status_code
    conditions = error_conditions(response.content) if response.content else set()
    text = f"the CalDAV server answered {status} to {op}"
    meta = {"httpStatus": str(status)}
    wait = retry_after(response)
    if status == 401:
        return errors.Unauthenticated(
            f"{text}: the user name or password was rejected",
            reason="UPSTREAM_CREDENTIALS_REJECTED",
            metadata=meta,
        )
    if _SYNC_TOKEN in conditions or (syncing and status in (409, 412)):
        return SyncTokenExpired(f"{text}: sync token no longer valid", reason="SYNC_TOKEN_EXPIRED")
    if status == 403:
        return errors.PermissionDenied(text, reason="UPSTREAM_FORBIDDEN", metadata=meta)
    if status in (404, 410):
        return errors.NotFound(f"{text}: not found", reason="UPSTREAM_NOT_FOUND", metadata=meta)
    if status == 409 and conditions & _UID_CONFLICT:
        return errors.AlreadyExists(
            f"{text}: another resource of the collection has this UID",
            reason="UPSTREAM_UID_CONFLICT",
            metadata=meta,
        )
    if status == 409:
        return errors.FailedPrecondition(text, reason="UPSTREAM_CONFLICT", metadata=meta)
    if status == 412:
        return errors.EtagMismatch(
            f"{text}: it changed on the server meanwhile",
            reason="UPSTREAM_ETAG_MISMATCH",
            metadata=meta,
        )
    if status == 413:
        return errors.InvalidArgument(
            f"{text}: too large for the server", reason="UPSTREAM_TOO_LARGE", metadata=meta
        )
    if status in (400, 415, 422):
        return errors.InvalidArgument(
            f"{text}: the server refused the data{_excerpt(response)}",
            reason="UPSTREAM_REJECTED",
            metadata=meta,
        )
    if status == 429:
        return errors.RateLimited(
            f"{text}: rate limited", retry_after=wait, reason="UPSTREAM_RATE_LIMITED", metadata=meta
        )
    if status == 423:
        return errors.Unavailable(
            f"{text}: the resource is locked",
            retry_after=wait if wait is not None else 1.0,
            reason="UPSTREAM_LOCKED",
            metadata=meta,
        )
    return errors.Unavailable(text, retry_after=wait, reason="UPSTREAM_UNAVAILABLE", metadata=meta)


def unreachable(exc: httpx.HTTPError, op: str, timeout: float) -> errors.ConnectorError:
    if isinstance(exc, httpx.TimeoutException):
        return errors.Unavailable(
            f"the CalDAV server did not answer {op} within {timeout:g}s",
            retry_after=1.0,
            reason="UPSTREAM_TIMEOUT",
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return errors.InvalidArgument(
            violations=[("account.settings.caldav.url", f"not a usable http(s) URL: {exc}")],
            reason="UPSTREAM_URL_INVALID",
        )
    return errors.Unavailable(
        f"the CalDAV server could not be reached for {op} ({type(exc).__name__})",
        retry_after=1.0,
        reason="UPSTREAM_UNREACHABLE",
    )


def malformed(op: str, detail: str) -> errors.ConnectorError:
    return errors.Unavailable(
        f"the CalDAV server's answer to {op} is malformed: {detail[:200]}",
        retry_after=5.0,
        reason="UPSTREAM_MALFORMED",
    )
