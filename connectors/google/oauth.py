"""OAuth 2.0 access tokens from a refresh token (RFC 6749 section 6).

The access token is refreshed shortly before it expires and, once, when the
API answers 401 anyway (revoked or rotated early). A refresh answered with
``invalid_grant`` means the user revoked the grant or it expired: only a new
consent helps, so it is ``UNAUTHENTICATED`` with reason
``ACCOUNT_REAUTH_REQUIRED`` (the sync worker stops pulling the account until
its credentials change).
"""

from __future__ import annotations

import asyncio
import time

import httpx

from connectors import errors
from connectors.remote import REAUTH_REQUIRED

__all__ = ["REAUTH_REASON", "TokenSource"]

REAUTH_REASON = REAUTH_REQUIRED
# Refresh this long before the announced expiry: clocks and round trips drift.
_EARLY_SECONDS = 60.0


class TokenSource:
    def __init__(
        self,
        client: httpx.AsyncClient,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
    ) -> None:
        self._client = client
        self._url = token_url
        self._form = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        }
        self._token = ""
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self.refreshes = 0

    async def token(self) -> str:
        if self._token and time.monotonic() < self._expires - _EARLY_SECONDS:
            return self._token
        async with self._lock:  # one refresh for concurrent callers
            if not self._token or time.monotonic() >= self._expires - _EARLY_SECONDS:
                await self._refresh()
        return self._token

    def invalidate(self, rejected: str) -> None:
        """The API rejected ``rejected``: the next ``token()`` refreshes."""
        if self._token == rejected:
            self._token = ""

    async def _refresh(self) -> None:
        try:
            reply = await self._client.post(self._url, data=self._form)
        except httpx.HTTPError as exc:
            raise errors.Unavailable(
                f"the OAuth token endpoint did not answer: {type(exc).__name__}",
                reason="UPSTREAM_UNAVAILABLE",
                retry_after=1.0,
            ) from exc
        body = _json(reply)
        token, lifetime = body.get("access_token"), body.get("expires_in", 3600)
        if reply.status_code == 200 and isinstance(token, str) and isinstance(lifetime, int):
            self._token = token
            self._expires = time.monotonic() + float(lifetime)
            self.refreshes += 1
            return
        code = str(body.get("error", ""))
        if code == "invalid_grant":
            raise errors.Unauthenticated(
                "Google no longer accepts this account's refresh token; connect it again",
                reason=REAUTH_REASON,
            )
        if code in ("invalid_client", "unauthorized_client"):
            raise errors.Unauthenticated(
                "Google rejected the OAuth client id or secret", reason="OAUTH_CLIENT_REJECTED"
            )
        if reply.status_code == 429:
            raise errors.RateLimited(
                "the OAuth token endpoint throttled us",
                retry_after=5.0,
                reason="UPSTREAM_RATE_LIMITED",
            )
        raise errors.Unavailable(
            f"the OAuth token endpoint answered {reply.status_code}",
            reason="UPSTREAM_UNAVAILABLE",
            retry_after=5.0,
        )


def _json(reply: httpx.Response) -> dict[str, object]:
    try:
        body = reply.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
