"""The activity stream: write-to-subscriber latency, fan-out throughput, idle subscriber RSS.

The ``event`` and ``activity`` services run as separate processes on one
fresh SQLite store; the activity service's feed polls the log every
``activity_poll_seconds`` (0.01 by default) and fans new rows out to its
streams. Three measurements, each driven from child processes (the bench
process itself makes no gRPC calls):

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
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.proc import Child, ProcessGroup
from bench.procfs import cpu_seconds, rss_bytes
from bench.report import mib, progress, table
from bench.scenarios import Goal, RunConfig, scenario
from bench.servers import Store, start_service

__all__ = ["run"]

CALENDAR = "accounts/default/calendars/primary"
GOAL_P99_MS = 50.0
GOAL_FANOUT_RATIO = 0.5
GOAL_IDLE_MIB = 100  # "MB" as ps and top count it: MiB, like bench.rss
LATENCY_SUBSCRIBERS = (1, 100)
FANOUT_STREAMS = 100
IDLE_STREAMS = 1000
CHANNELS = 4  # connections per subscriber process ("one channel or a few")
IDLE_CHANNELS = 10
WRITE_RATE = 20.0  # CreateEvent calls per second during the latency runs
PRELOAD_CONCURRENCY = 16
SETTLE_S = 1.0  # after READY, before the baseline RSS: start-up garbage, lazy imports
RSS_SAMPLE_S = 0.25
# Above this many cores used by other processes, the numbers say more about the neighbour.
NOISY_OTHER_CPU = 0.5
# Where each phase's `eventdata.extra_event` numbers start: disjoint ranges, so no two
# events share an iCalendar UID (a latency run adds 1,000 x its subscriber count).
_INDEX = {"lat": 100_000, "pre": 300_000, "idle-probe": 900_000, "lat-probe": 910_000}


@dataclass(frozen=True)
class _Plan:
    write_s: float  # seconds of steady writes per latency run
    preload: int  # events created before the fan-out runs
    fanout_repeat: int
    idle_hold_s: float  # how long the 1,000 idle streams stay open
    windows: int  # consecutive slices of a latency run's writes, each with its own p99

    @classmethod
    def of(cls, cfg: RunConfig) -> _Plan:
        if cfg.quick:
            return cls(write_s=2.5, preload=1000, fanout_repeat=1, idle_hold_s=2.0, windows=1)
        return cls(
            write_s=5.0, preload=2000, fanout_repeat=cfg.repeat, idle_hold_s=3.0, windows=cfg.repeat
        )


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return math.nan
    return values[max(1, math.ceil(q * len(values))) - 1]


@dataclass(frozen=True)
class _Latency:
    subscribers: int
    writes: int
    ms: list[float]  # sorted, one per delivery
    first_ms: list[float]  # sorted, per write: its earliest delivery (the feed picked it up)
    last_ms: list[float]  # sorted, per write: its latest delivery (the fan-out finished)
    window_p99: list[float]  # p99 of the deliveries of each consecutive slice of the writes
    missing: int
    cpu: dict[str, float]  # cores, while the writer's activities arrived
    writer: dict[str, Any]

    def pct(self, q: float) -> float:
        return _pct(self.ms, q)


@dataclass(frozen=True)
class _Idle:
    streams: int
    before: int
    samples: list[int]
    establish_s: float
    probes: int
    server_cpu: float  # cores, while the streams idled
    messages_while_idle: int

    @property
    def after(self) -> int:
        return int(statistics.median(self.samples))

    @property
    def extra(self) -> int:
        return self.after - self.before


@scenario("activity", "activity stream: write-to-subscriber latency, fan-out, idle RSS")
def run(cfg: RunConfig) -> list[Goal]:
    from services.catalog import CATALOG

    if "activity" not in CATALOG or "event" not in CATALOG:
        print("no 'activity' or 'event' service in services.catalog; nothing to measure")
        return []
    plan = _Plan.of(cfg)
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
            _latency(group, workdir, store, events, activity, n, plan) for n in LATENCY_SUBSCRIBERS
        ]
        progress(f"pre-loading {plan.preload:,} events (CreateEvent, C={PRELOAD_CONCURRENCY})")
        preload = group.run_json(
            "preload",
            ["-m", "bench.activity_writer"],
            {
                "mode": "preload",
                **_writer_base(store, events),
                "prefix": "pre-",
                "first_index": _INDEX["pre"],
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
    return _report(plan, idle, latencies, preload, fanout)


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


def _idle_rss(
    group: ProcessGroup, workdir: Path, store: Store, events: Child, plan: _Plan
) -> _Idle:
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
            probe_prefix="probe-idle-", probe_first_index=_INDEX["idle-probe"],
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
    idle = _Idle(
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
    plan: _Plan,
) -> _Latency:
    count = round(WRITE_RATE * plan.write_s)
    prefix = f"lat{n}-"
    first = _INDEX["lat"] + 1_000 * n
    spec_path, out_path = _subscriber_spec(
        workdir, store, events, activity, f"latency-{n}",
        mode="latency", streams=n, channels=min(n, CHANNELS),
        prefix=f"{CALENDAR}/events/{prefix}", expect=count, deadline_s=plan.write_s + 30,
        probe_prefix=f"probe-lat{n}-", probe_first_index=_INDEX["lat-probe"] + 1_000 * n,
        watch_pids={"activity": activity.pid, "event": events.pid},
    )  # fmt: skip
    progress(f"latency: {n} subscriber(s), then {count} CreateEvent at {WRITE_RATE:g}/s")
    subs = group.start_server(f"subscribers-{n}", ["-m", "bench.subscribers", str(spec_path)])
    writer = group.run_json(
        f"writer-{n}",
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
        _pct(sorted(x for w in in_order[i : i + size] for x in per_write[w]), 0.99)
        for i in range(0, len(in_order), size)
    ]
    lat = _Latency(
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


# ------------------------------------------------------------------- report


def _median_run(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _us_per_message(runs: list[dict[str, float]]) -> float:
    """Server CPU microseconds per delivered message, median over the runs."""
    return statistics.median(r["server_cpu"] * r["seconds"] / r["messages"] * 1e6 for r in runs)


def _report(
    plan: _Plan,
    idle: _Idle,
    latencies: list[_Latency],
    preload: dict[str, Any],
    fanout: dict[str, Any],
) -> list[Goal]:
    # Latency
    def cores(lat: _Latency, key: str) -> str:
        return f"{lat.cpu[key] * 100:.0f}%" if key in lat.cpu else "-"

    rows = []
    for lat in latencies:
        rows.append(
            [
                str(lat.subscribers),
                f"{len(lat.ms):,}",
                str(lat.missing),
                f"{lat.pct(0.5):.1f}",
                f"{lat.pct(0.99):.1f}",
                f"{lat.ms[-1]:.1f}" if lat.ms else "-",
                *([" ".join(f"{x:.0f}" for x in lat.window_p99)] if plan.windows > 1 else []),
                f"{_pct(lat.first_ms, 0.5):.1f} / {_pct(lat.first_ms, 0.99):.1f}",
                f"{_pct(lat.last_ms, 0.5):.1f} / {_pct(lat.last_ms, 0.99):.1f}",
                cores(lat, "activity"),
                cores(lat, "self"),
                cores(lat, "other"),
            ]
        )
    writes = latencies[0].writes if latencies else 0
    print(
        f"Write-to-subscriber latency: {writes} CreateEvent at {WRITE_RATE:g}/s from another"
        " process; the subscribers in one\nprocess, START_POSITION_NOW, up to"
        f" {CHANNELS} connections. Latency = receive time - the writer's CreateEvent return\n"
        "time (one monotonic clock), over all deliveries."
        + (
            f" p99 by window: the p99 of each {100 // plan.windows}% of the writes, in order."
            if plan.windows > 1
            else ""
        )
        + "\nfirst / last: per write, its earliest / latest delivery (p50 / p99 over the"
        " writes): the feed's pick-up,\nthen the fan-out. CPU (cores) while the activities"
        " arrived: the activity service, the subscriber\nprocess, everything else but the"
        " event service (the writer, other tenants of the machine).\n"
    )
    headers = ["subscribers", "deliveries", "missing", "p50 ms", "p99 ms", "max ms"]
    if plan.windows > 1:
        headers.append("p99 by window")
    headers += ["first p50/p99", "last p50/p99", "act CPU", "sub CPU", "other CPU"]
    print(table(headers, rows))
    calls = ", ".join(f"{lat.writer['call_p50_ms']:.1f} ms" for lat in latencies)
    print(f"(The writer's CreateEvent calls took p50 {calls}.)")

    # Fan-out
    runs = fanout["runs"]
    bare_rate, almanac_rate = (
        _median_run(runs["bare"], "rate"),
        _median_run(runs["almanac"], "rate"),
    )
    ratio = almanac_rate / bare_rate
    count = fanout["count"]
    rows = []
    for kind, label in (("bare", "bare grpc.aio stream"), ("almanac", "Almanac StreamActivity")):
        kind_runs = runs[kind]
        rates = [r["rate"] for r in kind_runs]
        spread = (max(rates) - min(rates)) / statistics.median(rates) if len(rates) > 1 else None
        rate = statistics.median(rates)
        rows.append(
            [
                label,
                f"{rate:,.0f}",
                f"{spread * 100:.0f}%" if spread is not None else "-",
                f"{_median_run(kind_runs, 'seconds'):.2f}",
                f"{_median_run(kind_runs, 'server_cpu') * 100:.0f}%",
                f"{_us_per_message(kind_runs):.1f}",
                f"{_median_run(kind_runs, 'client_cpu') * 100:.0f}%",
                f"{_median_run(kind_runs, 'other_cpu') * 100:.0f}%",
                f"{rate / bare_rate:.2f}",
            ]
        )
    print(
        f"\nFan-out: {FANOUT_STREAMS} streams on {CHANNELS} connections, each reading all"
        f" {count:,} activities in the log\n(pre-loaded {preload['created']:,} by CreateEvent"
        f" at C={PRELOAD_CONCURRENCY} in {preload['seconds']:.1f} s), from START_POSITION_OLDEST;"
        f" the bare server sends\n{count:,} pre-serialized messages of"
        f" {round(fanout['message_bytes'])} bytes (the activities' mean) to as many streams."
        " Both read as raw bytes.\n"
        f"Median of {plan.fanout_repeat} run(s) each; srv us/msg = server CPU per delivered"
        " message.\n"
    )
    print(
        table(
            ["server", "msgs/s", "spread", "wall s", "srv CPU", "srv us/msg", "cli CPU",
             "other CPU", "vs bare"],
            rows,
        )
    )  # fmt: skip
    bare_us, almanac_us = _us_per_message(runs["bare"]), _us_per_message(runs["almanac"])
    print(
        f"Server CPU per delivered message: Almanac {almanac_us:.1f} us, bare {bare_us:.1f} us"
        f" ({almanac_us / bare_us:.1f} x). With {os.cpu_count()} cores shared by server, client"
        " and\nneighbours, msgs/s is bounded by the whole machine; us/msg is the server's own"
        " cost."
    )

    # Idle RSS
    per_sub = idle.extra / idle.streams
    print(
        f"\nIdle subscribers: a fresh activity service; VmRSS {SETTLE_S:g} s after READY, then"
        f" with {idle.streams:,} idle streams\n({IDLE_CHANNELS} connections, established after"
        f" {idle.establish_s:.1f} s and {idle.probes} probe write(s)); median of"
        f" {len(idle.samples)} samples over {plan.idle_hold_s:g} s.\n"
    )
    print(
        table(
            ["activity service", "RSS MiB", "extra MiB", "KiB/subscriber", "srv CPU"],
            [
                ["idle, no streams", mib(idle.before), "-", "-", "-"],
                [
                    f"{idle.streams:,} idle streams",
                    mib(idle.after),
                    f"+{mib(idle.extra)}",
                    f"{per_sub / 1024:.1f}",
                    f"{idle.server_cpu * 100:.0f}%",
                ],
            ],
        )
    )
    print(
        f"(RSS samples {mib(min(idle.samples))}-{mib(max(idle.samples))} MiB;"
        f" {idle.messages_while_idle} messages reached the idle streams while held.)"
    )

    worst = max(latencies, key=lambda lat: lat.pct(0.99))
    missing = sum(lat.missing for lat in latencies)
    goals = [
        Goal(
            f"activity: write-to-subscriber p99 <= {GOAL_P99_MS:g} ms on SQLite"
            f" (1 and {LATENCY_SUBSCRIBERS[-1]} subscribers)",
            worst.pct(0.99) <= GOAL_P99_MS and missing == 0,
            ", ".join(f"{lat.subscribers}: {lat.pct(0.99):.1f} ms" for lat in latencies)
            + (f"; {missing} deliveries missing" if missing else ""),
        ),
        Goal(
            f"activity: fan-out to {FANOUT_STREAMS} subscribers >= {GOAL_FANOUT_RATIO}"
            " x bare gRPC stream",
            ratio >= GOAL_FANOUT_RATIO,
            f"{ratio:.2f} x: {almanac_rate:,.0f} vs {bare_rate:,.0f} msgs/s",
        ),
        Goal(
            f"activity: {idle.streams:,} idle subscribers <= {GOAL_IDLE_MIB} MB extra RSS",
            idle.extra <= GOAL_IDLE_MIB << 20,
            f"+{mib(idle.extra)} MiB, {per_sub / 1024:.1f} KiB per subscriber",
        ),
    ]
    busiest = max(
        [lat.cpu.get("other", 0.0) for lat in latencies]
        + [r["other_cpu"] for kind in runs.values() for r in kind]
    )
    if busiest > NOISY_OTHER_CPU:
        print(
            f"\nNote: other processes used up to {busiest * 100:.0f}% CPU (of"
            f" {(os.cpu_count() or 1) * 100}%) during the runs: latency tails and msgs/s are"
            " pessimistic;\ncompare 'srv us/msg', or run again on a quiet machine."
        )
    print()
    for goal in goals:
        print(f"Goal: {goal.text}: {goal.verdict} ({goal.detail})")
    return goals
