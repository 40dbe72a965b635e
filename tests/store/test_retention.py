"""Retention: expired idempotency keys and old tombstones go, in small batches;
live rows, recent tombstones and cancelled instances of live series stay."""

from __future__ import annotations

import asyncio

from connectors.local.events.records import KIND_EXCEPTION, KIND_MASTER, KIND_SINGLE
from connectors.state.idempotency import RETENTION_SECONDS
from connectors.state.retention import purge, run_retention
from connectors.store import Store
from connectors.store.rows import now_us

DAY_US = 86_400 * 1_000_000


async def _event(
    store: Store, event_id: str, kind: int, deleted: bool, age_days: float, series: str = ""
) -> None:
    when = now_us() - int(age_days * DAY_US)
    async with store.transaction() as tx:
        await tx.execute(
            "INSERT INTO events (account_id, calendar_id, id, kind, series_id, ical_uid,"
            " start_us, end_us, deleted, body, create_time, update_time)"
            " VALUES ('acc', 'cal', ?, ?, ?, ?, 0, 1, ?, ?, ?, ?)",
            event_id, kind, series, event_id, int(deleted), b"", when, when,
        )  # fmt: skip


async def _key(store: Store, request_id: str, age_s: float) -> None:
    async with store.transaction() as tx:
        await tx.execute(
            "INSERT INTO idempotency_keys (scope, request_id, request_hash, response, create_time)"
            " VALUES ('s', ?, 'h', ?, ?)",
            request_id, b"", now_us() - int(age_s * 1_000_000),
        )  # fmt: skip


async def _ids(store: Store, sql: str) -> set[str]:
    return {str(r[0]) for r in await store.fetchall(sql)}


async def test_purge_keeps_what_is_still_needed(store: Store) -> None:
    await _event(store, "old-single", KIND_SINGLE, True, 40)
    await _event(store, "old-series", KIND_MASTER, True, 40)
    await _event(store, "old-series_x1", KIND_EXCEPTION, False, 50, "old-series")
    await _event(store, "old-series_x2", KIND_EXCEPTION, True, 50, "old-series")
    await _event(store, "live-series", KIND_MASTER, False, 400)
    await _event(store, "live-series_cancelled", KIND_EXCEPTION, True, 400, "live-series")
    await _event(store, "recent-single", KIND_SINGLE, True, 2)
    await _event(store, "live-single", KIND_SINGLE, False, 400)
    for n in range(5):
        await _key(store, f"old-{n}", RETENTION_SECONDS + 60)
    await _key(store, "fresh", 60)

    done = await purge(store, tombstone_age_s=30 * 86_400, batch=2)

    assert await _ids(store, "SELECT id FROM events") == {
        "live-series", "live-series_cancelled", "recent-single", "live-single",
    }  # fmt: skip
    assert await _ids(store, "SELECT request_id FROM idempotency_keys") == {"fresh"}
    assert (done.idempotency_keys, done.tombstones) == (5, 4)
    assert done.batches >= 4, "batches of 2 rows: writers wait for one small batch at most"
    again = await purge(store, tombstone_age_s=30 * 86_400)
    assert (again.idempotency_keys, again.tombstones) == (0, 0)


async def test_writers_proceed_while_the_purge_runs(store: Store) -> None:
    for n in range(300):
        await _key(store, f"old-{n}", RETENTION_SECONDS + 60)
    stop = asyncio.Event()
    background = asyncio.create_task(run_retention(store, 86_400, 0.01, stop))
    for n in range(20):  # each write commits while the purge is under way
        await asyncio.wait_for(_key(store, f"new-{n}", 0), 5)
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(background, 5)
    left = await _ids(store, "SELECT request_id FROM idempotency_keys")
    assert left == {f"new-{n}" for n in range(20)}
