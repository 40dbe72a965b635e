"""The Graph client on its own against the fake: concurrency and Retry-After.

Graph allows 4 concurrent requests per app and mailbox and throttles the
fifth (the fake does the same); the backend's client never sends a fifth,
however many calls its callers make at once, and waits out a short
Retry-After instead of failing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from almanac.v1 import account_service_pb2 as acc_pb

from connectors.errors import Unavailable
from connectors.msgraph import GraphBackend
from connectors.remote import SyncTokenExpired
from tests.connectors.graph.fake import CLIENT_SECRET, FakeGraph


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    server = FakeGraph().start()
    yield server
    server.stop()
    assert server.violations == []


def _backend(fake: FakeGraph, user: str) -> GraphBackend:
    refresh = fake.add_user(user, calendars=1)
    settings = acc_pb.MicrosoftGraphSettings(
        tenant="contoso",
        client_id="app",
        client_secret=CLIENT_SECRET,
        refresh_token=refresh,
        api_base_url=fake.api_url,
        token_url=fake.token_url(),
    )
    return GraphBackend(
        acc_pb.Account(
            connector=acc_pb.CONNECTOR_TYPE_MICROSOFT_GRAPH,
            settings=acc_pb.ConnectorSettings(microsoft_graph=settings),
        )
    )


async def test_never_more_than_four_requests_at_once(fake: FakeGraph) -> None:
    backend = _backend(fake, "busy")
    fake.latency = 0.1
    try:
        started = time.monotonic()
        got = await asyncio.gather(*(backend.list_calendars() for _ in range(12)))
        elapsed = time.monotonic() - started
    finally:
        await backend.aclose()
    assert all(len(c) == 1 for c in got)
    assert fake.peak["busy"] == 4
    assert fake.throttled == []
    assert elapsed >= 0.3  # 12 requests, 4 at a time, 0.1 s each


async def test_retry_after_is_honoured(fake: FakeGraph) -> None:
    backend = _backend(fake, "slow")
    try:
        await backend.list_calendars()
        fake.throttle(1, status=503, retry_after=0.5)
        started = time.monotonic()
        await backend.list_calendars()
        assert time.monotonic() - started >= 0.5
    finally:
        await backend.aclose()
    assert fake.throttled == [("slow", 503)]


async def test_an_expired_delta_token_is_sync_token_expired(fake: FakeGraph) -> None:
    backend = _backend(fake, "stale")
    calendar = fake.default_calendar("stale")
    try:
        first = await backend.changes(calendar, "")
        assert not first.more and first.items == []
        fake.expire_tokens("stale")
        with pytest.raises(SyncTokenExpired):
            await backend.changes(calendar, first.token)
    finally:
        await backend.aclose()


async def test_delta_pages_follow_next_links(fake: FakeGraph) -> None:
    backend = _backend(fake, "many")
    calendar = fake.default_calendar("many")
    fake.page_size = 3
    for day in range(1, 8):
        wall = f"2026-12-{day + 1:02d}T09:00:00.0000000"
        end = f"2026-12-{day + 1:02d}T10:00:00.0000000"
        fake.call(
            "many",
            "POST",
            f"calendars/{calendar}/events",
            {
                "subject": f"E{day}",
                "start": {"dateTime": wall, "timeZone": "UTC"},
                "end": {"dateTime": end, "timeZone": "UTC"},
            },
        )
    try:
        items = await backend.list_items(calendar)
    finally:
        await backend.aclose()
    assert sorted(i.events[0].display_name for i in items) == [f"E{d}" for d in range(1, 8)]
    pages = [p for _, _, p in fake.requests if p.endswith("calendarView/delta")]
    assert len(pages) == 3


async def test_a_removal_another_process_saw_the_start_of_means_a_resync(
    fake: FakeGraph,
) -> None:
    """A restarted worker has no map of Graph ids to UIDs: it resyncs rather than guess."""
    first = _backend(fake, "restart")
    calendar = fake.default_calendar("restart")
    _, made = fake.call(
        "restart",
        "POST",
        f"calendars/{calendar}/events",
        {
            "subject": "Doomed",
            "start": {"dateTime": "2026-12-03T09:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2026-12-03T10:00:00.0000000", "timeZone": "UTC"},
        },
    )
    try:
        listed = await first.changes(calendar, "")
        assert [i.events[0].display_name for i in listed.items] == ["Doomed"]
    finally:
        await first.aclose()
    settings = first.account.settings.microsoft_graph
    second = GraphBackend(
        acc_pb.Account(
            connector=acc_pb.CONNECTOR_TYPE_MICROSOFT_GRAPH,
            settings=acc_pb.ConnectorSettings(microsoft_graph=settings),
        )
    )
    try:
        quiet = await second.changes(calendar, listed.token)  # nothing to place: fine
        assert quiet.items == [] and quiet.deleted == []
        fake.call("restart", "DELETE", f"events/{made['id']}")
        with pytest.raises(SyncTokenExpired):
            await second.changes(calendar, quiet.token)
        relisted = await second.changes(calendar, "")
        assert relisted.items == []
        fake.call(
            "restart",
            "POST",
            f"calendars/{calendar}/events",
            {
                "subject": "Next",
                "start": {"dateTime": "2026-12-04T09:00:00.0000000", "timeZone": "UTC"},
                "end": {"dateTime": "2026-12-04T10:00:00.0000000", "timeZone": "UTC"},
            },
        )
        added = await second.changes(calendar, relisted.token)
        (item,) = added.items
        fake.call("restart", "DELETE", f"events/{item.etag.split(' ')[0]}")
        removed = await second.changes(calendar, added.token)
        assert removed.deleted == [item.uid]
    finally:
        await second.aclose()


@pytest.mark.parametrize(
    "body",
    [b"<html>proxy error</html>", b'{"value": [{"name": "no id"}]}', b'{"value": 7}', b"[]"],
)
async def test_an_unreadable_answer_is_unavailable_not_internal(
    fake: FakeGraph, body: bytes
) -> None:
    backend = _backend(fake, "garbled")
    calendar = fake.default_calendar("garbled")
    try:
        fake.garble(2, body, "garbled", frozenset({"GET"}))
        with pytest.raises(Unavailable) as caught:
            await backend.list_calendars()
        assert caught.value.reason == "UPSTREAM_MALFORMED_RESPONSE"
        with pytest.raises(Unavailable):
            await backend.changes(calendar, "")
        assert [c.remote_id for c in await backend.list_calendars()] == [calendar]
    finally:
        await backend.aclose()


def test_the_fake_refuses_what_graph_refuses(fake: FakeGraph) -> None:
    """The fake is only a good oracle if it fails where Graph does."""
    fake.add_user("strict")
    calendar = fake.default_calendar("strict")
    bad: list[dict[str, object]] = [
        {"subject": 5},
        {"subject": "x", "showAs": "away"},
        {"subject": "x", "colour": "red"},
        {"subject": "x", "start": {"dateTime": "2026-12-01 09:00", "timeZone": "UTC"},
         "end": {"dateTime": "2026-12-01T10:00:00", "timeZone": "UTC"}},
        {"subject": "x", "start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "Mars/Base"},
         "end": {"dateTime": "2026-12-01T10:00:00", "timeZone": "UTC"}},
        {"subject": "x", "start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "UTC"},
         "end": {"dateTime": "2026-12-01T10:00:00", "timeZone": "UTC"},
         "recurrence": {"pattern": {"type": "weekly", "interval": 1},
                        "range": {"type": "noEnd", "startDate": "2026-12-01"}}},
        {"subject": "x", "start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "UTC"},
         "end": {"dateTime": "2026-12-01T10:00:00", "timeZone": "UTC"},
         "recurrence": {"pattern": {"type": "daily", "interval": 1},
                        "range": {"type": "noEnd", "startDate": "2026-12-02"}}},
        {"subject": "x", "iCalUId": "mine"},
    ]  # fmt: skip
    for body in bad:
        status, answer = fake.call("strict", "POST", f"calendars/{calendar}/events", body)
        assert status == 400, (body, answer)
    assert len(fake.violations) >= len(bad)
    fake.violations.clear()
