"""The activity stream: write-to-subscriber latency, fan-out throughput, idle subscriber RSS.

The ``event`` and ``activity`` services run as separate processes on one
fresh SQLite store; the activity service's feed polls the log every
``activity_poll_seconds`` (0.01 by default) and fans new rows out to its
streams. Three measurements, each driven from child processes (the bench
process itself makes no gRPC calls); the latency one runs again at the end
on new services over a fresh PostgreSQL database (`bench.pgdb`), where
the feed learns of new rows by LISTEN/NOTIFY instead of polling:

1. Idle RSS, on an activity service of its own (so nothing earlier has
   grown its heap): VmRSS after it settles, then 1,000 ``StreamActivity``
   streams from one process on a few connections (`bench.subscribers`),
   established (each has received a probe event), then VmRSS while they idle.
2. Latency, with 1 and then 100 subscribers (START_POSITION_NOW) in one
   process, while another process (`bench.activity_writer`) calls
   ``CreateEvent`` at a steady rate: latency is the subscriber's receive time
   minus the time the writer's CreateEvent returned (CLOCK_MONOTONIC, shared
   by every process on the machine), matched by event id.
3. Fan-out: the log is filled with CreateEvent calls, then 100 streams from
   START_POSITION_OLDEST each read every activity; next to them 100 streams
   of a bare grpc.aio server-streaming server (`bench.stream_echo`) send as
   many pre-serialized messages of the same mean size. Delivered messages
   per second = all streams' messages / wall time; the goal is the ratio.
   The latency phase has started the feed before the log is filled, so
   after a first page replayed from SQLite (a stream reads 500-row pages
   until it reaches the oldest row the feed holds) a stream is served from
   the feed's in-memory ring.

Every phase also reports the CPU used meanwhile by everything else on the
machine: on a shared 2-core machine a busy neighbour shows up there first.
"""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.activity_report import (
    CALENDAR,
    CHANNELS,
    FANOUT_STREAMS,
    IDLE_CHANNELS,
    IDLE_STREAMS,
    INDEX,
    LATENCY_SUBSCRIBERS,
    PRELOAD_CONCURRENCY,
    RSS_SAMPLE_S,
    SETTLE_S,
    WRITE_RATE,
    Idle,
    Latency,
    Plan,
    pct,
    report,
)  # fmt: skip
from bench.pgdb import fresh_database
from bench.proc import Child, ProcessGroup
from bench.procfs import cpu_seconds, rss_bytes
from bench.report import mib, progress
from bench.scenarios import Goal, RunConfig, scenario
from bench.servers import Store, start_service

__all__ = ["run"]


@scenario("activity", "activity stream: write-to-subscriber latency, fan-out, idle RSS")
def run(cfg: RunConfig) -> list[Goal]:
    from services.catalog import CATALOG

    if "activity" not in CATALOG or "event" not in CATALOG:
        print("no 'activity' or 'event' service in services.catalog; nothing to measure")
        return []
    plan = Plan.of(cfg)
    with (
        tempfile.TemporaryDirectory(prefix="almanac-bench-activity-") as tmp,
        ProcessGroup(Path(tmp)) as group,
    ):
        workdir = Path(tmp)
        store = Store.fresh(workdir)
        progress("starting the event service (migrates the store)")
        events = start_service(group, "event", store)
        idle = _idle_rss(group, workdir, store, events, plan)
        progress("starting the activity service")
        activity = start_service(group, "activity", store)
        latencies = [
            _latency(group, workdir, store, events, activity, n, plan, "sqlite")
            for n in LATENCY_SUBSCRIBERS
        ]
        progress(f"pre-loading {plan.preload:,} events (CreateEvent, C={PRELOAD_CONCURRENCY})")
        preload = group.run_json(
            "preload",
            ["-m", "bench.activity_writer"],
            {
                "mode": "preload",
                **_writer_base(store, events),
                "prefix": "pre-",
                "first_index": INDEX["pre"],
                "count": plan.preload,
                "concurrency": PRELOAD_CONCURRENCY,
            },
            120.0 + plan.preload / 10,
        )
        progress(f"pre-loaded in {preload['seconds']:.1f} s; starting the bare stream server")
        bare = group.start_server("stream-echo", ["-m", "bench.stream_echo"])
        progress(f"fan-out: {FANOUT_STREAMS} streams, {plan.fanout_repeat} x (bare, Almanac)")
        fanout = group.run_json(
            "fanout",
            ["-m", "bench.subscribers"],
            {
                "mode": "fanout",
                "activity_target": activity.address,
                "activity_pid": activity.pid,
                "bare_target": bare.address,
                "bare_pid": bare.pid,
                "token": store.token,
                "streams": FANOUT_STREAMS,
                "channels": CHANNELS,
                "repeat": plan.fanout_repeat,
            },
            120.0 + 300.0 * plan.fanout_repeat,
        )
        # One store's services at a time: the SQLite feed would poll on meanwhile.
        _stop(activity)
        _stop(events)
        pg_latencies = _postgres_latencies(group, workdir, plan)
    return report(plan, idle, {"SQLite": latencies, "PostgreSQL": pg_latencies}, preload, fanout)


def _stop(child: Child) -> None:
    child.popen.terminate()
    child.popen.wait(15)


def _postgres_latencies(group: ProcessGroup, workdir: Path, plan: Plan) -> list[Latency]:
    """The latency phase again, on fresh event and activity services over a new database."""
    with fresh_database("almanac_bench_activity") as url:
        store = Store.at(url)
        progress("PostgreSQL: a fresh database; starting the event service (migrates it)")
        events = group.start_server(
            "event-pg", ["-m", "services", "serve", "event", "--port", "0"], store.env
        )
        activity = group.start_server(
            "activity-pg", ["-m", "services", "serve", "activity", "--port", "0"], store.env
        )
        try:
            return [
                _latency(group, workdir, store, events, activity, n, plan, "pg")
                for n in LATENCY_SUBSCRIBERS
            ]
        finally:  # before the database is dropped under them
            _stop(activity)
            _stop(events)


def _writer_base(store: Store, events: Child) -> dict[str, Any]:
    return {"event_target": events.address, "token": store.token, "parent": CALENDAR}


def _subscriber_spec(
    workdir: Path, store: Store, events: Child, activity: Child, name: str, **extra: Any
) -> tuple[Path, Path]:
    """Write a `bench.subscribers` spec file; returns (spec path, answer path)."""
    spec_path, out_path = workdir / f"{name}.spec.json", workdir / f"{name}.out.json"
    spec = {
        "activity_target": activity.address,
        "event_target": events.address,
        "token": store.token,
        "calendar": CALENDAR,
        "out": str(out_path),
        **extra,
    }
    spec_path.write_text(json.dumps(spec))
    return spec_path, out_path


def _finish(child: Child, out_path: Path, timeout: float) -> dict[str, Any]:
    """Wait for a `bench.subscribers` child to exit and read its answer."""
    try:
        code = child.popen.wait(timeout)
    except subprocess.TimeoutExpired:
        raise child.fail(f"did not finish within {timeout:.0f} s") from None
    if code != 0:
        raise child.fail(f"exited with {code}")
    result: dict[str, Any] = json.loads(out_path.read_text())
    return result


# ----------------------------------------------------------------- idle RSS


def _idle_rss(group: ProcessGroup, workdir: Path, store: Store, events: Child, plan: Plan) -> Idle:
    progress("idle RSS: a separate activity service")
    server = group.start_server(
        "activity-idle", ["-m", "services", "serve", "activity", "--port", "0"], store.env
    )
    try:
        time.sleep(SETTLE_S)
        before = rss_bytes(server.pid)
        spec_path, out_path = _subscriber_spec(
            workdir, store, events, server, "idle-subscribers",
            mode="idle", streams=IDLE_STREAMS, channels=IDLE_CHANNELS, hold_s=plan.idle_hold_s,
            probe_prefix="probe-idle-", probe_first_index=INDEX["idle-probe"],
        )  # fmt: skip
        progress(f"idle RSS: {mib(before)} MiB; opening {IDLE_STREAMS:,} streams")
        subs = group.start_server("idle-subscribers", ["-m", "bench.subscribers", str(spec_path)])
        cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
        samples = []
        # Sample while the streams are held open (the child closes them after hold_s).
        while time.monotonic() - t0 < plan.idle_hold_s - 2 * RSS_SAMPLE_S:
            samples.append(rss_bytes(server.pid))
            time.sleep(RSS_SAMPLE_S)
        server_cpu = (cpu_seconds(server.pid) - cpu0) / (time.monotonic() - t0)
        result = _finish(subs, out_path, 60.0 + plan.idle_hold_s)
    finally:
        # Stopped before the other phases: one activity service at a time.
        server.popen.terminate()
        server.popen.wait(15)
    idle = Idle(
        IDLE_STREAMS, before, samples, result["establish_s"], result["probes"], server_cpu,
        result["messages_while_idle"],
    )  # fmt: skip
    progress(f"idle RSS with {IDLE_STREAMS:,} streams: {mib(idle.after)} MiB")
    return idle


# ------------------------------------------------------------------ latency


def _latency(
    group: ProcessGroup,
    workdir: Path,
    store: Store,
    events: Child,
    activity: Child,
    n: int,
    plan: Plan,
    kind: str,
) -> Latency:
    count = round(WRITE_RATE * plan.write_s)
    prefix = f"lat{n}-"
    first = INDEX["lat"] + 1_000 * n
    spec_path, out_path = _subscriber_spec(
        workdir, store, events, activity, f"latency-{kind}-{n}",
        mode="latency", streams=n, channels=min(n, CHANNELS),
        prefix=f"{CALENDAR}/events/{prefix}", expect=count, deadline_s=plan.write_s + 30,
        probe_prefix=f"probe-lat{n}-", probe_first_index=INDEX["lat-probe"] + 1_000 * n,
        watch_pids={"activity": activity.pid, "event": events.pid},
    )  # fmt: skip
    progress(f"latency ({kind}): {n} subscriber(s), then {count} CreateEvent at {WRITE_RATE:g}/s")
    subs = group.start_server(
        f"subscribers-{kind}-{n}", ["-m", "bench.subscribers", str(spec_path)]
    )
    writer = group.run_json(
        f"writer-{kind}-{n}",
        ["-m", "bench.activity_writer"],
        {
            "mode": "steady",
            **_writer_base(store, events),
            "prefix": prefix,
            "first_index": first,
            "count": count,
            "rate": WRITE_RATE,
        },
        60.0 + plan.write_s,
    )
    result = _finish(subs, out_path, 90.0 + plan.write_s)
    returned: dict[str, int] = writer["returned_ns"]
    ms: list[float] = []
    per_write: dict[str, list[float]] = {}
    for received in result["received"]:
        for event_id, mono, _wall, _committed in received:
            latency = (mono - returned[event_id]) / 1e6
            ms.append(latency)
            per_write.setdefault(event_id, []).append(latency)
    # Event ids number the writes in order: slice them into consecutive windows, so one
    # stall (a neighbour taking the CPU) shows up as one window's p99, not as noise.
    in_order = sorted(per_write)
    size = math.ceil(len(in_order) / plan.windows) if in_order else 1
    window_p99 = [
        pct(sorted(x for w in in_order[i : i + size] for x in per_write[w]), 0.99)
        for i in range(0, len(in_order), size)
    ]
    lat = Latency(
        n,
        count,
        sorted(ms),
        sorted(min(v) for v in per_write.values()),
        sorted(max(v) for v in per_write.values()),
        window_p99,
        n * count - len(ms),
        result.get("cpu", {}),
        writer,
    )
    progress(f"  p50 {lat.pct(0.5):.1f} ms, p99 {lat.pct(0.99):.1f} ms")
    return lat
