"""Calls to the Calendar API: authorization, bounded retries, error mapping.

Google asks clients to retry rate limits (403 ``rateLimitExceeded`` /
``userRateLimitExceeded``, 429) with exponential backoff and jitter; this
does so up to a bound, then gives up with ``RESOURCE_EXHAUSTED`` and a
``RetryInfo`` so the caller (or the sync worker's own backoff) waits. Every
other status maps once, in :func:`mapped`, into ``connectors.errors``.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

import httpx

from connectors import errors
from connectors.remote import SyncTokenExpired

from .oauth import TokenSource

__all__ = ["Api", "RetryPolicy", "mapped"]

_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})


@dataclass(frozen=True)
class RetryPolicy:
    # Four tries wait at most 0.25 + 0.5 + 1 s: inside a write-through's upstream timeout.
    attempts: int = 4  # tries of one request while it is rate limited
    base: float = 0.25  # seconds before the first retry, doubled each time
    cap: float = 4.0  # no single wait longer than this

    def delay(self, attempt: int) -> float:
        # "Full jitter": spread retries of many clients over the whole window.
        return random.uniform(0, min(self.cap, self.base * 2.0**attempt))


class Api:
    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        tokens: TokenSource,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/") + "/calendar/v3/"
        self._tokens = tokens
        self._retry = retry or RetryPolicy()

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        etag: str | None = None,
    ) -> Any:
        """One API call; the decoded JSON reply (None for 204)."""
        refreshed = False
        attempt = 0
        while True:
            token = await self._tokens.token()
            headers = {"Authorization": f"Bearer {token}"}
            if etag:
                headers["If-Match"] = etag
            reply = await self._send(method, path, params, body, headers)
            if reply.status_code == 401 and not refreshed:
                self._tokens.invalidate(token)
                refreshed = True
                continue
            if _rate_limited(reply) and attempt + 1 < self._retry.attempts:
                await asyncio.sleep(_retry_after(reply) or self._retry.delay(attempt))
                attempt += 1
                continue
            if reply.status_code < 300:
                return reply.json() if reply.content else None
            raise mapped(reply)

    async def _send(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        body: Any,
        headers: dict[str, str],
    ) -> httpx.Response:
        try:
            return await self._client.request(
                method, self._base + path, params=params, json=body, headers=headers
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL: a page token too long
            raise errors.Unavailable(
                f"Google Calendar did not answer: {type(exc).__name__}",
                reason="UPSTREAM_UNAVAILABLE",
                retry_after=1.0,
            ) from exc


def _reasons(reply: httpx.Response) -> set[str]:
    try:
        error = reply.json().get("error", {})
        return {str(e.get("reason", "")) for e in error.get("errors", [])} | {
            str(d.get("reason", "")) for d in error.get("details", []) if isinstance(d, dict)
        }
    except (ValueError, AttributeError):
        return set()


def _rate_limited(reply: httpx.Response) -> bool:
    return reply.status_code == 429 or (
        reply.status_code == 403 and bool(_reasons(reply) & _RATE_REASONS)
    )


def _retry_after(reply: httpx.Response) -> float | None:
    try:
        value = float(reply.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return min(max(value, 0.0), 60.0)


def mapped(reply: httpx.Response) -> errors.ConnectorError:
    """A failed reply as the one connector error it means."""
    status, reasons = reply.status_code, _reasons(reply)
    text = f"Google Calendar answered {status} ({', '.join(sorted(reasons - {''})) or 'no reason'})"
    if _rate_limited(reply):
        return errors.RateLimited(
            text, retry_after=_retry_after(reply) or 30.0, reason="UPSTREAM_RATE_LIMITED"
        )
    if status == 401:
        return errors.Unauthenticated(text, reason="UPSTREAM_CREDENTIALS_REJECTED")
    if status == 403 and reasons & {"dailyLimitExceeded", "quotaExceeded"}:
        # Not worth a quick retry: the quota frees up over hours.
        return errors.RateLimited(text, retry_after=600.0, reason="UPSTREAM_QUOTA_EXCEEDED")
    if status == 403:
        return errors.PermissionDenied(text, reason="UPSTREAM_FORBIDDEN")
    if status == 404:
        return errors.NotFound(text, reason="UPSTREAM_NOT_FOUND")
    if status == 409:
        return errors.AlreadyExists(text, reason="UPSTREAM_ALREADY_EXISTS")
    if status == 410 and "fullSyncRequired" in reasons:
        return SyncTokenExpired(text, reason="SYNC_TOKEN_EXPIRED")
    if status == 410:
        return errors.NotFound(text, reason="UPSTREAM_GONE")
    if status == 412:
        return errors.EtagMismatch(text, reason="UPSTREAM_ETAG_MISMATCH")
    if status == 400:
        return errors.InvalidArgument(violations=[("", text)], reason="UPSTREAM_BAD_REQUEST")
    return errors.Unavailable(
        text, retry_after=_retry_after(reply) or 5.0, reason="UPSTREAM_UNAVAILABLE"
    )
