"""The activity feed's tail of the log, on each store.

On PostgreSQL the NOTIFY that announces a row carries it, and the feed takes
the row from it when it directly follows the feed's newest one; these tests
check that the feed still equals the log (no gap, no duplicate, cursor
order) under concurrent writers, that notices of another schema of the same
database are ignored, and how a notice is read.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib

import pytest
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2

from connectors.state.activity import append_activity
from connectors.state.activity_log import LogRow, notice_tail, parse_notice, read_after
from connectors.store import Store, open_store
from services.activity.feed import Feed
from tests.store.conftest import PgScratch, pg_reachable

WRITERS = 4
PER_WRITER = 15


async def _append(store: Store, name: str, *, twice: bool = False) -> None:
    async with store.transaction() as tx:
        for suffix in ("", "-again") if twice else ("",):
            await append_activity(
                tx,
                store.dialect,
                account="acc",
                activity_type=act_pb.ACTIVITY_TYPE_ADDED,
                resource_type=common_pb2.RESOURCE_TYPE_CALENDAR,
                resource=f"accounts/acc/calendars/{name}{suffix}",
                calendar=f"accounts/acc/calendars/{name}{suffix}",
                actor="test",
                snapshot=cal_pb.Calendar(display_name=name),
            )


async def _caught_up(feed: Feed, store: Store) -> None:
    newest = (await read_after(store, 0, 100_000))[-1].cursor
    async with asyncio.timeout(10):
        while feed.head < newest:
            await feed.wait(feed.head, 0.5)


async def test_feed_equals_the_log_under_concurrent_writers(store: Store) -> None:
    await _append(store, "before")
    feed = Feed(store, poll_seconds=0.01)
    await feed.start()
    start = feed.head
    try:

        async def writer(w: int) -> None:
            for i in range(PER_WRITER):
                # Some transactions append two rows: the second's previous is the first.
                await _append(store, f"w{w}-{i}", twice=i % 5 == 0)

        await asyncio.gather(*(writer(w) for w in range(WRITERS)))
        await _caught_up(feed, store)
        got = feed.since(start)
        assert got is not None
        log = await read_after(store, start, 100_000)
        assert [(r.cursor, r.body, r.calendar_id) for r in got] == [
            (r.cursor, r.body, r.calendar_id) for r in log
        ]
        assert len(log) == WRITERS * (PER_WRITER + 3)
    finally:
        await feed.close()


@pytest.mark.postgres
async def test_notices_of_another_schema_are_not_taken(pg_scratch: PgScratch) -> None:
    if not pg_reachable():
        pytest.skip("no PostgreSQL server")
    mine = await open_store(await pg_scratch.new_schema_url())
    other = await open_store(await pg_scratch.new_schema_url())
    feed = Feed(mine, poll_seconds=0.01)
    try:
        await feed.start()
        # Both logs are empty, so the other's first notice says "previous 0",
        # which is this feed's head too: only the scope tells them apart.
        await _append(other, "theirs")
        await asyncio.sleep(0.3)
        assert feed.head == 0 and feed.since(0) == []
        await _append(mine, "mine")
        await _caught_up(feed, mine)
        got = feed.since(0)
        assert got is not None and [r.calendar_id for r in got] == ["mine"]
    finally:
        await feed.close()
        await mine.close()
        await other.close()


# -- notices -------------------------------------------------------------------


def _notice(scope: str, previous: int, cursor: int, body: bytes = b"\x00body\xff") -> str:
    return f"{scope} {previous} {cursor} {notice_tail('acc', 'cal', 'RESOURCE_TYPE_EVENT', body)}"


def test_a_notice_carries_the_row() -> None:
    parsed = parse_notice(_notice("42", 7, 9), "42")
    assert parsed is not None
    previous, row = parsed
    assert previous == 7
    assert (row.cursor, row.account_id, row.calendar_id, row.resource_type, row.body) == (
        9, "acc", "cal", "RESOURCE_TYPE_EVENT", b"\x00body\xff",
    )  # fmt: skip


@pytest.mark.parametrize(
    "payload",
    [
        "",  # the bare NOTIFY of an older writer
        "42 7 9 ",  # a body too big for the payload: no tail
        _notice("43", 7, 9),  # another schema's log
        "42 7 nine " + notice_tail("a", "c", "t", b"x"),
        "42 7 9 [not json",
        "42 7 9 " + '["a","c","t","%%%"]',  # not base64
        "42 7 9 " + '["a","c"]',
    ],
)
def test_anything_else_is_a_doorbell(payload: str) -> None:
    assert parse_notice(payload, "42") is None


def test_a_big_body_is_left_out() -> None:
    assert notice_tail("a", "c", "t", b"x" * 100_000) == ""
    tail = notice_tail("a", "c", "t", b"x" * 5000)
    assert tail and len(_notice("1", 1, 2, b"x" * 5000)) < 8000
    assert base64.b64decode(tail.split('"')[-2]) == b"x" * 5000


class _Unused:
    """A store the feed must not touch in these tests."""


def _feed_at(head: int) -> Feed:
    feed = Feed(_Unused())  # type: ignore[arg-type]
    feed.head = feed.floor = head
    feed._scope = "42"
    return feed


def _row(cursor: int) -> LogRow:
    return LogRow(cursor, "acc", "cal", "RESOURCE_TYPE_EVENT", b"b")


async def test_the_feed_takes_only_the_next_row_from_a_notice() -> None:
    feed = _feed_at(7)
    feed._notified(_notice("42", 7, 9))  # follows the head: taken
    assert feed.head == 9 and [r.cursor for r in feed.since(7) or []] == [9]
    assert not feed._poke.is_set()
    feed._notified(_notice("42", 8, 9))  # already here (a read brought it): ignored
    assert feed.head == 9 and not feed._poke.is_set()
    feed._notified(_notice("42", 10, 11))  # a row in between is unknown: read the log
    assert feed.head == 9 and feed._poke.is_set()
    feed._poke.clear()
    feed._notified("")  # a doorbell: read the log
    assert feed._poke.is_set()
    feed._scope = None  # not known yet: every notice is a doorbell
    feed._poke.clear()
    feed._notified(_notice("42", 9, 10))
    assert feed.head == 9 and feed._poke.is_set()


async def test_a_read_overlapping_a_notice_adds_no_duplicate() -> None:
    feed = _feed_at(7)
    feed._notified(_notice("42", 7, 9))
    feed._append([_row(9), _row(12)])  # the read started before the notice arrived
    assert [r.cursor for r in feed.since(7) or []] == [9, 12]
    feed._append([_row(12)])
    assert [r.cursor for r in feed.since(7) or []] == [9, 12]


async def test_waiters_wake_on_rows_and_on_close() -> None:
    feed = _feed_at(7)
    waiting = asyncio.gather(*(feed.wait(7, 5) for _ in range(3)))
    await asyncio.sleep(0)
    feed._notified(_notice("42", 7, 8))
    assert await asyncio.wait_for(waiting, 1) == [True, True, True]
    assert await feed.wait(8, 0.01) is False  # timed out
    waiter = asyncio.ensure_future(feed.wait(8, 5))
    await asyncio.sleep(0)
    with contextlib.suppress(asyncio.CancelledError):
        await feed.close()
    assert await asyncio.wait_for(waiter, 1) is False


async def test_since_after_the_ring_is_trimmed() -> None:
    feed = Feed(_Unused(), ring_size=3)  # type: ignore[arg-type]
    for cursor in range(1, 11):
        feed._append([_row(cursor)])
    # Trimmed in bulk past twice the size: rows 5..10 stay, 4 is the floor.
    assert feed.floor == 4 and feed.head == 10
    assert feed.since(3) is None
    for position in range(4, 11):
        assert [r.cursor for r in feed.since(position) or []] == list(range(position + 1, 11))
