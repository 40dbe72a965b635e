"""The mirror of remote accounts, with the reference backend as the upstream.

1. Latency: an upstream change (a PUT on the reference server, as another
   client of it would make) until a ``StreamActivity`` subscriber receives its
   activity, through the sync worker, the mirror and the activity service,
   each a separate process on one fresh SQLite store. The worker pulls each
   account every ``sync_interval_seconds`` (0.25 s here), so about half an
   interval is waiting by design; the rest is the pull and the fan-out.
2. Throughput: mirroring 10,000 upstream events into a fresh store (a first,
   full sync: one listing over HTTP/JSON, then rows, materialized instances
   and an ADDED activity per event) against a bare SQLite bulk insert of the
   same serialized events into a two-column table, measured in the same run.

The reference server and the subscriber run on threads of the bench process.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import grpc
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import account_service_pb2_grpc as acc_grpc
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import activity_service_pb2_grpc as act_grpc
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import json_format, timestamp_pb2

from bench.proc import ProcessGroup
from bench.report import progress, table
from bench.scenarios import Goal, RunConfig, scenario
from bench.servers import Store, start_service
from tests.connectors.reference.server import ReferenceServer

__all__ = ["run"]

BACKEND = "caldav=tests.connectors.reference.backend:ReferenceBackend"
INTERVAL_S = 0.25
CHANGES = 40
EVENTS = 10_000


def _event(uid: str, title: str, day: int = 2) -> dict[str, Any]:
    start = timestamp_pb2.Timestamp(seconds=1_793_000_000 + day * 86_400)
    end = timestamp_pb2.Timestamp(seconds=start.seconds + 3600)
    event = ev_pb.Event(
        ical_uid=uid, display_name=title,
        start=common_pb2.EventTime(date_time=start, time_zone="UTC"),
        end=common_pb2.EventTime(date_time=end, time_zone="UTC"),
    )  # fmt: skip
    return json_format.MessageToDict(event)


def _metadata(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def _latency(workdir: Path, quick: bool) -> list[float]:
    upstream = ReferenceServer().start()
    store = Store.fresh(workdir)
    env = {
        **store.env,
        "ALMANAC_CONNECTOR_BACKENDS": BACKEND,
        "ALMANAC_SYNC_INTERVAL_SECONDS": str(INTERVAL_S),
        "ALMANAC_SYNC_POLL_SECONDS": "0.02",
        "ALMANAC_ACCESS_LOG": "false",
    }
    group = ProcessGroup(workdir, env)
    try:
        with group:
            account = start_service(group, "account", store)
            activity = start_service(group, "activity", store)
            group.start_server("sync", ["-m", "services", "serve", "sync", "--port", "0"])
            upstream.add_user("bench")
            accounts = acc_grpc.AccountServiceStub(grpc.insecure_channel(account.address))
            accounts.CreateAccount(
                acc_pb.CreateAccountRequest(
                    account_id="bench",
                    account=acc_pb.Account(
                        connector=acc_pb.CONNECTOR_TYPE_CALDAV,
                        settings=acc_pb.ConnectorSettings(
                            caldav=acc_pb.CalDavSettings(
                                url=upstream.url("bench"), username="bench",
                                password=upstream.password,
                            )
                        ),
                    ),
                ),
                metadata=_metadata(store.token),
            )  # fmt: skip
            return _measure_latency(upstream, activity.address, store.token, quick)
    finally:
        upstream.stop()


def _measure_latency(
    upstream: ReferenceServer, address: str, token: str, quick: bool
) -> list[float]:
    stub = act_grpc.ActivityServiceStub(grpc.insecure_channel(address))
    call = stub.StreamActivity(
        act_pb.StreamActivityRequest(
            parent="accounts/bench", resource_types=[common_pb2.RESOURCE_TYPE_EVENT]
        ),
        metadata=_metadata(token),
    )
    seen: dict[str, float] = {}
    done = threading.Event()

    def read() -> None:
        try:
            for item in call:
                if item.HasField("activity"):
                    seen[item.activity.event_snapshot.display_name] = time.monotonic()
        except grpc.RpcError:
            pass
        done.set()

    threading.Thread(target=read, daemon=True).start()
    time.sleep(1.0)  # the stream is open and the account has had its first sync
    sent: dict[str, float] = {}
    for i in range(CHANGES // (4 if quick else 1)):
        title = f"change {i}"
        upstream.put("bench", "cal0", f"e{i % 5}", [_event(f"e{i % 5}", title)])
        sent[title] = time.monotonic()
        time.sleep(INTERVAL_S * 1.7)  # not in step with the worker's interval
    deadline = time.monotonic() + 10
    while len(seen) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.05)
    call.cancel()
    return [(seen[t] - s) * 1000 for t, s in sent.items() if t in seen]


def _throughput(workdir: Path) -> tuple[float, float]:
    """Seconds to mirror EVENTS events, and to bulk-insert them bare."""
    upstream = ReferenceServer().start()
    try:
        upstream.add_user("bulk")
        for i in range(EVENTS):
            upstream.put("bulk", "cal0", f"b{i:05d}", [_event(f"b{i:05d}", f"E{i}", i % 28)])
        mirror_s = asyncio.run(_mirror_once(workdir / "mirror.db", upstream))
        bodies = [json.dumps(i).encode() for i in upstream.items("bulk", "cal0").values()]
    finally:
        upstream.stop()
    path = workdir / "bare.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE rows (id TEXT PRIMARY KEY, body BLOB NOT NULL)")
    started = time.perf_counter()
    with conn:
        conn.executemany(
            "INSERT INTO rows VALUES (?, ?)", [(f"b{i}", b) for i, b in enumerate(bodies)]
        )
    bare_s = time.perf_counter() - started
    conn.close()
    return mirror_s, bare_s


async def _mirror_once(path: Path, upstream: ReferenceServer) -> float:
    from connectors.base import WriteContext
    from connectors.registry import Connectors
    from connectors.state.accounts import Registry
    from connectors.state.secrets import SecretBox
    from connectors.store import open_store
    from connectors.sync.worker import SyncOptions, SyncWorker

    store = await open_store(f"sqlite:///{path}")
    registry = Registry(store, SecretBox([SecretBox.new_key()]))  # secrets are sealed at rest
    connectors = Connectors(store, registry, {"caldav": BACKEND.split("=", 1)[1]})
    try:
        await registry.create_account(
            acc_pb.Account(
                connector=acc_pb.CONNECTOR_TYPE_CALDAV,
                settings=acc_pb.ConnectorSettings(
                    caldav=acc_pb.CalDavSettings(
                        url=upstream.url("bulk"), username="bulk", password=upstream.password
                    )
                ),
            ),
            "bulk",
            WriteContext("bench"),
        )
        worker = SyncWorker(store, connectors.backend_for, SyncOptions(lease=600), "bench")
        started = time.perf_counter()
        await worker.sync_account("bulk")
        elapsed = time.perf_counter() - started
        row = await store.fetchone(
            "SELECT COUNT(*) AS n FROM events WHERE account_id = 'bulk' AND deleted = 0"
        )
        assert row is not None and int(row["n"]) == EVENTS, f"mirrored {row and row['n']}"
        return elapsed
    finally:
        await connectors.aclose()
        await store.close()


@scenario("mirror", "remote account mirror: upstream change -> subscriber; 10k-event first sync")
def run(config: RunConfig) -> list[Goal]:
    with tempfile.TemporaryDirectory(prefix="almanac-bench-mirror-") as tmp:
        workdir = Path(tmp)
        progress("mirror: upstream change -> subscriber latency")
        (workdir / "lat").mkdir()
        latencies = _latency(workdir / "lat", config.quick)
        progress(f"mirror: first sync of {EVENTS:,} events vs a bare SQLite bulk insert")
        (workdir / "bulk").mkdir()
        mirror_s, bare_s = _throughput(workdir / "bulk")
    lat = sorted(latencies)
    p50 = statistics.median(lat) if lat else float("nan")
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
    mirror_rate, bare_rate = EVENTS / mirror_s, EVENTS / bare_s
    print(table(
        ["measure", "almanac", "bare", "ratio"],
        [
            [f"upstream change -> subscriber (n={len(lat)}, interval {INTERVAL_S}s)",
             f"p50 {p50:.0f} ms, p99 {p99:.0f} ms", "", ""],
            [f"mirror {EVENTS:,} events (first sync)", f"{mirror_rate:,.0f} events/s",
             f"{bare_rate:,.0f} rows/s", f"{mirror_rate / bare_rate:.3f}x"],
        ],
    ))  # fmt: skip
    return [
        Goal(
            f"every upstream change reaches the subscriber ({len(lat)}/"
            f"{CHANGES // (4 if config.quick else 1)})",
            len(lat) == CHANGES // (4 if config.quick else 1),
            f"p50 {p50:.0f} ms, p99 {p99:.0f} ms",
        ),
        Goal(
            "upstream change -> subscriber p99 within one sync interval plus 250 ms",
            p99 <= INTERVAL_S * 1000 + 250,
            f"p99 {p99:.0f} ms",
        ),
        Goal(
            "first sync of 10,000 events (reported next to a bare bulk insert)",
            True,
            f"{mirror_s:.2f} s ({mirror_rate:,.0f}/s) vs bare {bare_s:.3f} s "
            f"({bare_rate:,.0f}/s) = {mirror_rate / bare_rate:.3f}x; cpu count {os.cpu_count()}",
        ),
    ]
