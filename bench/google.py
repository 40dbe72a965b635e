"""Sync throughput of the Google Calendar connector, mirrored from the fake.

The fake Google Calendar API of the tests (``tests/connectors/google``) runs
on threads of the bench process, over loopback HTTP, with its response
validation off (it would measure the validator); the connector and the sync
worker run in this process too, on a fresh SQLite store, as in
``bench.mirror``'s throughput half. Three measures:

1. a first (full) sync of 10,000 single events, in pages of 2,500;
2. an incremental sync (``syncToken``) after 1,000 of them changed;
3. a first sync of 300 weekly series with two exceptions each (one page: a
   whole full listing needs no ``events.list?iCalUID=`` per series; an
   incremental page or a listing over several pages does, see
   ``connectors/google/items.py``).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from almanac.v1 import account_service_pb2 as acc_pb

from bench.report import progress, table
from bench.scenarios import Goal, RunConfig, scenario
from tests.connectors.google.fake import FakeGoogle

__all__ = ["run"]

EVENTS = 10_000
CHANGED = 1_000
SERIES = 300


def _single(i: int) -> dict[str, Any]:
    day, hour = 1 + i % 28, 8 + i % 10
    return {
        "iCalUID": f"b{i:05d}@bench",
        "summary": f"E{i}",
        "start": {"dateTime": f"2026-11-{day:02d}T{hour:02d}:00:00Z"},
        "end": {"dateTime": f"2026-11-{day:02d}T{hour:02d}:30:00Z"},
    }


def _series(i: int) -> dict[str, Any]:
    return {
        "iCalUID": f"s{i:04d}@bench",
        "summary": f"S{i}",
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=10"],
        "start": {"dateTime": "2026-11-02T09:00:00+01:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-11-02T10:00:00+01:00", "timeZone": "Europe/Berlin"},
    }


def _fill(fake: FakeGoogle, user: str, singles: int, series: int) -> None:
    api, cal = fake.events, fake.calendar(user)
    with fake.lock:
        for i in range(singles):
            api._insert(cal, _single(i))
        for i in range(series):
            master = api._insert(cal, _series(i))
            for week in ("20261109T080000Z", "20261116T080000Z"):
                instance = f"{master['id']}_{week}"
                api._new_exception(cal, instance)
                cal.events[instance]["summary"] = f"S{i} moved"
                cal.touch(instance)


async def _sync(
    workdir: Path, fake: FakeGoogle, user: str, refresh: str, change: int = 0
) -> tuple[float, float, int]:
    """Seconds of a first sync, of an incremental one after ``change`` edits; rows."""
    from connectors.base import WriteContext
    from connectors.registry import Connectors
    from connectors.state.accounts import Registry
    from connectors.state.secrets import SecretBox
    from connectors.store import open_store
    from connectors.sync.worker import SyncOptions, SyncWorker

    store = await open_store(f"sqlite:///{workdir / (user + '.db')}")
    registry = Registry(store, SecretBox([SecretBox.new_key()]))  # secrets are sealed at rest
    connectors = Connectors(store, registry)  # the built-in google backend
    settings = acc_pb.GoogleSettings(
        client_id="client-" + user,
        client_secret="secret",
        refresh_token=refresh,
        api_base_url=fake.url,
        token_url=fake.token_url,
    )
    try:
        await registry.create_account(
            acc_pb.Account(
                connector=acc_pb.CONNECTOR_TYPE_GOOGLE,
                settings=acc_pb.ConnectorSettings(google=settings),
            ),
            user,
            WriteContext("bench"),
        )
        worker = SyncWorker(store, connectors.backend_for, SyncOptions(lease=600), "bench")
        started = time.perf_counter()
        await worker.sync_account(user)
        first = time.perf_counter() - started
        incremental = 0.0
        if change:
            cal = fake.calendar(user)
            with fake.lock:
                for event_id in sorted(cal.events)[:change]:
                    cal.events[event_id]["summary"] += " (changed)"
                    cal.touch(event_id)
            started = time.perf_counter()
            await worker.sync_account(user)
            incremental = time.perf_counter() - started
        row = await store.fetchone(
            "SELECT COUNT(*) AS n FROM events WHERE account_id = ? AND deleted = 0", user
        )
        return first, incremental, int(row["n"]) if row else 0
    finally:
        await connectors.aclose()
        await store.close()


@scenario("google", "Google connector: events/s mirrored from the fake (full, incremental, series)")
def run(config: RunConfig) -> list[Goal]:
    events = EVENTS // (4 if config.quick else 1)
    fake = FakeGoogle(validate=False).start()
    try:
        with tempfile.TemporaryDirectory(prefix="almanac-bench-google-") as tmp:
            workdir = Path(tmp)
            progress(f"google: first sync of {events:,} events, then {CHANGED:,} changed")
            singles = fake.add_user("singles")
            _fill(fake, "singles", events, 0)
            first, incremental, rows = asyncio.run(
                _sync(workdir, fake, "singles", singles, CHANGED)
            )
            progress(f"google: first sync of {SERIES} series with two exceptions each")
            series = fake.add_user("series")
            _fill(fake, "series", 0, SERIES)
            series_s, _, series_rows = asyncio.run(_sync(workdir, fake, "series", series))
    finally:
        fake.stop()
    rates = (events / first, CHANGED / incremental, SERIES * 3 / series_s)
    print(
        table(
            ["measure", "time", "rate"],
            [
                [
                    f"first sync, {events:,} single events",
                    f"{first:.2f} s",
                    f"{rates[0]:,.0f} events/s",
                ],
                [
                    f"incremental sync, {CHANGED:,} changed",
                    f"{incremental:.2f} s",
                    f"{rates[1]:,.0f} events/s",
                ],
                [
                    f"first sync, {SERIES} series x 3 Google events",
                    f"{series_s:.2f} s",
                    f"{rates[2]:,.0f} events/s",
                ],
            ],
        )
    )
    return [
        Goal(
            f"every event mirrored ({rows:,}/{events:,} single, {series_rows} series rows)",
            rows == events and series_rows >= SERIES,
            f"cpu count {os.cpu_count()}",
        ),
        Goal(
            "first sync from Google (reported)",
            True,
            f"{rates[0]:,.0f} events/s; incremental {rates[1]:,.0f}/s; series {rates[2]:,.0f}/s",
        ),
    ]
