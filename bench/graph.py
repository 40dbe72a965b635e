"""The Microsoft Graph connector: mirroring a mailbox from the fake Graph.

1. First sync: ``EVENTS`` single events and ``SERIES`` weekly series (each
   with an exception) in one mailbox of the fake Graph (HTTP on loopback,
   every payload checked against Graph's metadata), mirrored into a fresh
   SQLite store by the sync worker in this process: delta pages of 100,
   each series master read again with its exceptions.
2. Incremental sync: ``CHANGES`` events edited upstream, then one pull.

Reported with the number of Graph requests each took. The fake's schema
checks cost time on its side of the loopback too, so this is a lower bound
of the connector's own speed, not Graph's.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from almanac.v1 import account_service_pb2 as acc_pb

from bench.report import progress, table
from bench.scenarios import Goal, RunConfig, scenario
from tests.connectors.graph.fake import CLIENT_SECRET, FakeGraph

__all__ = ["run"]

EVENTS, SERIES, CHANGES = 3_000, 100, 50
ZONE = "W. Europe Standard Time"


def _body(i: int, title: str) -> dict[str, Any]:
    day, hour = 1 + i % 28, 7 + i % 10
    wall = f"2026-12-{day:02d}T{hour:02d}:00:00.0000000"
    end = f"2026-12-{day:02d}T{hour:02d}:30:00.0000000"
    return {"subject": title, "start": {"dateTime": wall, "timeZone": ZONE},
            "end": {"dateTime": end, "timeZone": ZONE}}  # fmt: skip


def _fill(fake: FakeGraph, user: str, events: int, series: int) -> list[str]:
    cal = fake.default_calendar(user)
    ids = []
    for i in range(events):
        _, made = fake.call(user, "POST", f"calendars/{cal}/events", _body(i, f"E{i}"))
        ids.append(str(made["id"]))
    for i in range(series):
        body = _body(i, f"S{i}")
        day = body["start"]["dateTime"][:10]
        body["recurrence"] = {
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "numbered", "numberOfOccurrences": 5, "startDate": day},
        }
        _, made = fake.call(user, "POST", f"calendars/{cal}/events", body)
        fake.call(user, "PATCH", f"events/{made['id']}_{day.replace('-', '')}", {"subject": "x"})
    return ids


async def _sync(path: Path, fake: FakeGraph, user: str, refresh: str,
                ids: list[str]) -> tuple[float, int, float, int]:  # fmt: skip
    from connectors.base import WriteContext
    from connectors.registry import Connectors
    from connectors.state.accounts import Registry
    from connectors.state.secrets import SecretBox
    from connectors.store import open_store
    from connectors.sync.worker import SyncOptions, SyncWorker

    store = await open_store(f"sqlite:///{path}")
    registry = Registry(store, SecretBox([SecretBox.new_key()]))  # secrets are sealed at rest
    connectors = Connectors(store, registry)
    settings = acc_pb.MicrosoftGraphSettings(
        tenant="bench", client_id="bench", client_secret=CLIENT_SECRET, refresh_token=refresh,
        api_base_url=fake.api_url, token_url=fake.token_url(),
    )  # fmt: skip
    try:
        await registry.create_account(
            acc_pb.Account(connector=acc_pb.CONNECTOR_TYPE_MICROSOFT_GRAPH,
                           settings=acc_pb.ConnectorSettings(microsoft_graph=settings)),
            user, WriteContext("bench"),
        )  # fmt: skip
        worker = SyncWorker(store, connectors.backend_for, SyncOptions(lease=600), "bench")
        before = len(fake.requests)
        started = time.perf_counter()
        await worker.sync_account(user)
        first_s, first_n = time.perf_counter() - started, len(fake.requests) - before
        row = await store.fetchone(
            "SELECT COUNT(*) AS n FROM events WHERE account_id = ? AND deleted = 0", user
        )
        assert row is not None and int(row["n"]) == EVENTS + 2 * SERIES, dict(row or {})
        for event_id in ids[:CHANGES]:
            fake.call(user, "PATCH", f"events/{event_id}", {"subject": "changed"})
        before = len(fake.requests)
        started = time.perf_counter()
        await worker.sync_account(user)
        again_s, again_n = time.perf_counter() - started, len(fake.requests) - before
        return first_s, first_n, again_s, again_n
    finally:
        await connectors.aclose()
        await store.close()


@scenario("graph", "Microsoft Graph connector: first and incremental sync from the fake Graph")
def run(config: RunConfig) -> list[Goal]:
    fake = FakeGraph().start()
    fake.page_size = 100
    try:
        user = "bench"
        refresh = fake.add_user(user)
        progress(f"graph: {EVENTS:,} events and {SERIES} series into the fake")
        ids = _fill(fake, user, EVENTS, SERIES)
        with tempfile.TemporaryDirectory(prefix="almanac-bench-graph-") as tmp:
            progress("graph: first sync, then an incremental one")
            first_s, first_n, again_s, again_n = asyncio.run(
                _sync(Path(tmp) / "graph.db", fake, user, refresh, ids)
            )
        violations = list(fake.violations)
    finally:
        fake.stop()
    items = EVENTS + SERIES
    print(table(
        ["measure", "time", "rate", "Graph requests"],
        [
            [f"first sync: {EVENTS:,} events + {SERIES} series", f"{first_s:.2f} s",
             f"{items / first_s:,.0f} items/s", str(first_n)],
            [f"incremental: {CHANGES} changed", f"{again_s:.2f} s",
             f"{CHANGES / again_s:,.0f} items/s", str(again_n)],
        ],
    ))  # fmt: skip
    return [
        Goal("no Graph schema violation in either sync", not violations, f"{len(violations)}"),
        Goal(
            "first sync of a 3,100-item mailbox (reported)",
            True,
            f"{first_s:.2f} s, {items / first_s:,.0f} items/s, {first_n} requests",
        ),
        Goal(
            f"incremental sync of {CHANGES} changes within 5 s",
            again_s <= 5.0,
            f"{again_s:.2f} s, {again_n} requests",
        ),
    ]
