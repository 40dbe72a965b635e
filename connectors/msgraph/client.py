"""HTTP to Graph: OAuth refresh, throttling, and Graph's errors mapped once.

* Tokens: ``POST {token_url}`` with the refresh token (``/{tenant}/oauth2/
  v2.0/token``). ``invalid_grant`` (revoked or expired consent) is
  ``Unauthenticated`` with reason ``ACCOUNT_REAUTH_REQUIRED``: only the user
  can fix it by connecting the account again. A 401 from Graph refreshes
  once and retries.
* Throttling: Graph allows 4 concurrent requests per app and mailbox, so
  each client (one per account and process) holds a semaphore of 4. A 429
  or 503 is retried after its ``Retry-After`` while that fits in the
  request's time budget; otherwise it surfaces as ``RateLimited`` /
  ``Unavailable`` carrying the delay, so the caller's RetryInfo is honest.
* Every request asks ``Prefer: outlook.timezone="UTC"`` (see :mod:`.times`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from connectors import errors
from connectors.remote import SyncTokenExpired
from connectors.telemetry import upstream_hooks

__all__ = ["GraphClient"]

DEFAULT_API = "https://graph.microsoft.com/v1.0"
DEFAULT_LOGIN = "https://login.microsoftonline.com"
SCOPE = "offline_access https://graph.microsoft.com/Calendars.ReadWrite"
MAX_CONCURRENT = 4  # Graph's limit per app and mailbox (throttling-limits.md)
RETRY_BUDGET = 4.0  # seconds a request may spend waiting out Retry-After
PAGE_SIZE = 100


class GraphClient:
    def __init__(
        self,
        api: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        timeout: float = 30.0,
    ) -> None:
        self._api = (api or DEFAULT_API).rstrip("/")
        self._token_url = token_url
        self._form = {
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
            "grant_type": "refresh_token",
            "scope": SCOPE,
        }
        self._http = httpx.AsyncClient(
            timeout=timeout, event_hooks=upstream_hooks("microsoft_graph")
        )
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)
        self._token = ""
        self._token_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self._api}/{path.lstrip('/')}"

    async def call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> tuple[int, Any, httpx.Headers]:
        """Send one request (retrying throttling in budget); the JSON answer."""
        deadline = time.monotonic() + RETRY_BUDGET
        refreshed = False
        while True:
            reply = await self._send(method, path, headers or {}, kwargs)
            if reply.status_code == 401 and not refreshed:
                refreshed = True
                await self._refresh(stale=self._token)
                continue
            if reply.status_code in (429, 503):
                wait = _retry_after(reply)
                if time.monotonic() + wait <= deadline:
                    await asyncio.sleep(wait)
                    continue
            if reply.status_code >= 400:
                raise mapped(reply)
            return reply.status_code, (reply.json() if reply.content else None), reply.headers

    async def _send(
        self, method: str, path: str, headers: dict[str, str], kwargs: dict[str, Any]
    ) -> httpx.Response:
        token = self._token or await self._refresh(stale="")
        sent = {"Authorization": f"Bearer {token}", "Prefer": 'outlook.timezone="UTC"', **headers}
        async with self._slots:
            try:
                return await self._http.request(method, self.url(path), headers=sent, **kwargs)
            except httpx.HTTPError as exc:
                raise errors.Unavailable(
                    f"Microsoft Graph did not answer: {type(exc).__name__}",
                    reason="UPSTREAM_UNAVAILABLE",
                    retry_after=1.0,
                ) from exc

    async def _refresh(self, stale: str) -> str:
        async with self._token_lock:
            if self._token and self._token != stale:
                return self._token  # another request refreshed meanwhile
            try:
                reply = await self._http.post(self._token_url, data=self._form)
            except httpx.HTTPError as exc:
                raise errors.Unavailable(
                    "the Microsoft identity platform did not answer",
                    reason="UPSTREAM_UNAVAILABLE",
                    retry_after=1.0,
                ) from exc
            body = _json(reply)
            if reply.status_code == 200 and body.get("access_token"):
                self._token = str(body["access_token"])
                if body.get("refresh_token"):  # Microsoft rotates refresh tokens
                    self._form["refresh_token"] = str(body["refresh_token"])
                return self._token
            if body.get("error") in ("invalid_grant", "invalid_client", "unauthorized_client"):
                raise errors.Unauthenticated(
                    f"Microsoft refused the account's credentials ({body['error']});"
                    " connect the account again",
                    reason="ACCOUNT_REAUTH_REQUIRED",
                )
            raise mapped(reply)


def _json(reply: httpx.Response) -> dict[str, Any]:
    try:
        body = reply.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(reply: httpx.Response) -> float:
    try:
        return max(0.0, float(reply.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _code(reply: httpx.Response) -> str:
    error = _json(reply).get("error")
    return str(error.get("code") or "") if isinstance(error, dict) else str(error or "")


def mapped(reply: httpx.Response) -> errors.ConnectorError:
    """The one place a Graph status becomes an Almanac error."""
    status, code = reply.status_code, _code(reply)
    text = f"Microsoft Graph answered {status}" + (f" ({code})" if code else "")
    if status == 410 or code in ("syncStateNotFound", "resyncRequired", "SyncStateNotFound"):
        return SyncTokenExpired(text, reason="SYNC_TOKEN_EXPIRED")
    if status == 401:
        return errors.Unauthenticated(text, reason="ACCOUNT_REAUTH_REQUIRED")
    if status == 403:
        return errors.PermissionDenied(text, reason="UPSTREAM_FORBIDDEN")
    if status == 404:
        return errors.NotFound(text)
    if status == 409:
        return errors.AlreadyExists(text)
    if status == 412:
        return errors.EtagMismatch(text, reason="UPSTREAM_ETAG_MISMATCH")
    if status == 429:
        return errors.RateLimited(
            text, retry_after=_retry_after(reply), reason="UPSTREAM_RATE_LIMITED"
        )
    if status == 400:
        return errors.InvalidArgument(violations=[("", text)], reason="UPSTREAM_REJECTED")
    return errors.Unavailable(text, retry_after=_retry_after(reply), reason="UPSTREAM_UNAVAILABLE")
