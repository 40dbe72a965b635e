"""Retention: idempotency keys past their window and old event tombstones go.

`purge` deletes in small batches, each its own short transaction, so a
writer waits for one batch at most (SQLite has one writer at a time) and a
PostgreSQL writer never meets a long-held row lock. The sync worker runs
`run_retention` in the background every `retention_interval_seconds`.

A tombstone is an event row with ``deleted`` = 1. A deleted single event or
series goes once it is older than the configured age, a series with all of
its exception rows. An exception row of a *live* series is kept whatever its
age: a deleted exception is how a cancelled instance is remembered, and
removing it would bring the instance back.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from connectors.local.events.records import KIND_EXCEPTION
from connectors.state.idempotency import RETENTION_SECONDS
from connectors.store import Store
from connectors.store.rows import now_us

__all__ = ["BATCH", "Purged", "purge", "run_retention"]

BATCH = 500
_log = logging.getLogger("almanac.retention")


@dataclass
class Purged:
    idempotency_keys: int = 0
    tombstones: int = 0  # event rows, exceptions of deleted series included
    batches: int = 0


async def _purge_keys(store: Store, result: Purged, batch: int) -> None:
    cutoff = now_us() - RETENTION_SECONDS * 1_000_000
    while True:
        rows = await store.fetchall(
            "SELECT scope, request_id FROM idempotency_keys WHERE create_time < ? LIMIT ?",
            cutoff,
            batch,
        )
        if not rows:
            return
        async with store.transaction() as tx:
            for row in rows:
                # create_time again: a key reclaimed since the SELECT stays.
                result.idempotency_keys += await tx.execute(
                    "DELETE FROM idempotency_keys"
                    " WHERE scope = ? AND request_id = ? AND create_time < ?",
                    row["scope"], row["request_id"], cutoff,
                )  # fmt: skip
        result.batches += 1
        await asyncio.sleep(0)  # let waiting writers in between batches


async def _purge_tombstones(store: Store, result: Purged, max_age_s: float, batch: int) -> None:
    cutoff = now_us() - int(max_age_s * 1_000_000)
    while True:
        rows = await store.fetchall(
            "SELECT account_id, calendar_id, id FROM events"
            " WHERE deleted = 1 AND kind <> ? AND update_time < ? LIMIT ?",
            KIND_EXCEPTION, cutoff, batch,
        )  # fmt: skip
        if not rows:
            return
        async with store.transaction() as tx:
            for row in rows:
                key = (row["account_id"], row["calendar_id"])
                # deleted = 1 and the cutoff again: a row restored since stays.
                gone = await tx.execute(
                    "DELETE FROM events WHERE account_id = ? AND calendar_id = ? AND id = ?"
                    " AND deleted = 1 AND update_time < ?",
                    *key, row["id"], cutoff,
                )  # fmt: skip
                if gone:
                    result.tombstones += gone
                    result.tombstones += await tx.execute(
                        "DELETE FROM events WHERE account_id = ? AND calendar_id = ?"
                        " AND series_id = ? AND kind = ?",
                        *key, row["id"], KIND_EXCEPTION,
                    )  # fmt: skip
                    await tx.execute(
                        "DELETE FROM event_instances"
                        " WHERE account_id = ? AND calendar_id = ? AND series_id = ?",
                        *key, row["id"],
                    )  # fmt: skip
        result.batches += 1
        await asyncio.sleep(0)


async def purge(store: Store, tombstone_age_s: float, batch: int = BATCH) -> Purged:
    """Delete expired idempotency keys and tombstones older than ``tombstone_age_s``."""
    result = Purged()
    await _purge_keys(store, result, batch)
    await _purge_tombstones(store, result, tombstone_age_s, batch)
    return result


async def run_retention(
    store: Store, tombstone_age_s: float, interval_s: float, stop: asyncio.Event
) -> None:
    """`purge` every ``interval_s`` until ``stop`` is set; failures are logged."""
    while not stop.is_set():
        try:
            done = await purge(store, tombstone_age_s)
            if done.idempotency_keys or done.tombstones:
                _log.info(
                    "retention: purged %d idempotency keys and %d tombstones",
                    done.idempotency_keys,
                    done.tombstones,
                )
        except Exception:
            _log.exception("retention purge failed; retrying at the next interval")
        try:
            await asyncio.wait_for(stop.wait(), interval_s)
        except TimeoutError:
            pass
