"""Access tokens and rate-limit retries of the connector, against the fake."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from connectors import errors
from connectors.google.http import Api, RetryPolicy
from connectors.google.oauth import REAUTH_REASON, TokenSource

from .fake import FakeGoogle

FAST = RetryPolicy(attempts=4, base=0.01, cap=0.05)


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    server = FakeGoogle().start()
    yield server
    server.stop()
    assert server.violations == []


def _run(fake: FakeGoogle, body: object, retry: RetryPolicy = FAST) -> object:
    async def go() -> object:
        async with httpx.AsyncClient() as client:
            refresh = fake.add_user("ann")
            tokens = TokenSource(client, fake.token_url, "client-ann", "secret", refresh)
            api = Api(client, fake.url, tokens, retry)
            return await body(fake, api, tokens)  # type: ignore[operator]

    return asyncio.run(go())


def test_a_token_is_refreshed_before_it_expires(fake: FakeGoogle) -> None:
    fake.token_lifetime = 61  # usable for one second before the early refresh

    async def body(fake: FakeGoogle, api: Api, tokens: TokenSource) -> None:
        await api.call("GET", "users/me/calendarList")
        await api.call("GET", "users/me/calendarList")
        assert fake.token_grants == 1
        await asyncio.sleep(1.1)
        await api.call("GET", "users/me/calendarList")
        assert fake.token_grants == 2
        assert fake.answers["calendarList.list", 401] == 0

    _run(fake, body)


def test_a_rejected_token_is_refreshed_once(fake: FakeGoogle) -> None:
    async def body(fake: FakeGoogle, api: Api, tokens: TokenSource) -> None:
        await api.call("GET", "users/me/calendarList")
        fake.expire_access_tokens()
        await api.call("GET", "users/me/calendarList")
        assert (fake.token_grants, fake.answers["calendarList.list", 401]) == (2, 1)
        # A token refused even when fresh: one refresh, then UNAUTHENTICATED (no loop).
        fake.token_lifetime = -1
        fake.expire_access_tokens()
        with pytest.raises(errors.Unauthenticated) as refused:
            await api.call("GET", "users/me/calendarList")
        assert refused.value.reason == "UPSTREAM_CREDENTIALS_REJECTED"
        assert fake.token_grants == 3

    _run(fake, body)


def test_a_revoked_grant_needs_a_new_consent(fake: FakeGoogle) -> None:
    async def body(fake: FakeGoogle, api: Api, tokens: TokenSource) -> None:
        fake.revoke("ann")
        with pytest.raises(errors.Unauthenticated) as revoked:
            await api.call("GET", "users/me/calendarList")
        assert revoked.value.reason == REAUTH_REASON == "ACCOUNT_REAUTH_REQUIRED"

    _run(fake, body)


def test_rate_limits_are_retried_with_a_bound(fake: FakeGoogle) -> None:
    async def body(fake: FakeGoogle, api: Api, tokens: TokenSource) -> None:
        fake.fail(429, "rateLimitExceeded", count=2)
        fake.fail(403, "userRateLimitExceeded", count=1)
        await api.call("GET", "users/me/calendarList")
        assert sum(fake.calls.values()) == 4
        fake.fail(403, "rateLimitExceeded", count=100)
        started = time.monotonic()
        with pytest.raises(errors.RateLimited) as limited:
            await api.call("GET", "users/me/calendarList")
        assert sum(fake.calls.values()) == 4 + FAST.attempts
        assert time.monotonic() - started < FAST.cap * FAST.attempts + 0.5
        assert limited.value.retry_after and limited.value.retry_after > 0
        fake.clear_faults()
        # Other 403s are not retried.
        fake.fail(403, "forbidden", count=1, domain="global")
        with pytest.raises(errors.PermissionDenied):
            await api.call("GET", "users/me/calendarList")
        assert sum(fake.calls.values()) == 4 + FAST.attempts + 1

    _run(fake, body)


def test_backoff_grows_and_is_jittered() -> None:
    policy = RetryPolicy(attempts=6, base=0.25, cap=4.0)
    for attempt in range(6):
        delays = {policy.delay(attempt) for _ in range(50)}
        assert max(delays) <= min(4.0, 0.25 * 2**attempt)
        assert len(delays) > 40, "no jitter"
