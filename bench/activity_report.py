"""The activity scenario's shapes and report: its constants, plan, results and tables.

Split from `bench.activity` (which runs the phases) so each stays one concern:
this module only turns finished measurements into tables and goals.
"""

from __future__ import annotations

import math
import os
import statistics
from dataclasses import dataclass
from typing import Any

from bench.report import mib, table
from bench.scenarios import Goal, RunConfig

__all__ = [
    "CALENDAR", "CHANNELS", "FANOUT_STREAMS", "IDLE_CHANNELS", "IDLE_STREAMS", "INDEX",
    "LATENCY_SUBSCRIBERS", "PRELOAD_CONCURRENCY", "RSS_SAMPLE_S", "SETTLE_S", "WRITE_RATE",
    "Idle", "Latency", "Plan", "pct", "report",
]  # fmt: skip

CALENDAR = "accounts/default/calendars/primary"
GOAL_P99_MS = 50.0
GOAL_PG_P99_MS = 10.0  # PostgreSQL, at the largest LATENCY_SUBSCRIBERS
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
INDEX = {"lat": 100_000, "pre": 300_000, "idle-probe": 900_000, "lat-probe": 910_000}


@dataclass(frozen=True)
class Plan:
    write_s: float  # seconds of steady writes per latency run
    preload: int  # events created before the fan-out runs
    fanout_repeat: int
    idle_hold_s: float  # how long the 1,000 idle streams stay open
    windows: int  # consecutive slices of a latency run's writes, each with its own p99

    @classmethod
    def of(cls, cfg: RunConfig) -> Plan:
        if cfg.quick:
            return cls(write_s=2.5, preload=1000, fanout_repeat=1, idle_hold_s=2.0, windows=1)
        return cls(
            write_s=5.0, preload=2000, fanout_repeat=cfg.repeat, idle_hold_s=3.0, windows=cfg.repeat
        )


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return math.nan
    return values[max(1, math.ceil(q * len(values))) - 1]


@dataclass(frozen=True)
class Latency:
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
        return pct(self.ms, q)


@dataclass(frozen=True)
class Idle:
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


def _median_run(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _us_per_message(runs: list[dict[str, float]]) -> float:
    """Server CPU microseconds per delivered message, median over the runs."""
    return statistics.median(r["server_cpu"] * r["seconds"] / r["messages"] * 1e6 for r in runs)


def _latency_table(store: str, latencies: list[Latency], plan: Plan) -> None:
    def cores(lat: Latency, key: str) -> str:
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
                f"{pct(lat.first_ms, 0.5):.1f} / {pct(lat.first_ms, 0.99):.1f}",
                f"{pct(lat.last_ms, 0.5):.1f} / {pct(lat.last_ms, 0.99):.1f}",
                cores(lat, "activity"),
                cores(lat, "self"),
                cores(lat, "other"),
            ]
        )
    writes = latencies[0].writes if latencies else 0
    print(
        f"Write-to-subscriber latency on {store}: {writes} CreateEvent at {WRITE_RATE:g}/s from"
        " another process; the subscribers\nin one process, START_POSITION_NOW, up to"
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
    print(f"(The writer's CreateEvent calls took p50 {calls}.)\n")


def report(
    plan: Plan,
    idle: Idle,
    latencies: dict[str, list[Latency]],
    preload: dict[str, Any],
    fanout: dict[str, Any],
) -> list[Goal]:
    for store, lats in latencies.items():
        _latency_table(store, lats, plan)

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

    sqlite, pg = latencies["SQLite"], latencies["PostgreSQL"]
    worst = max(sqlite, key=lambda lat: lat.pct(0.99))
    missing = sum(lat.missing for lat in sqlite)
    pg_top = pg[-1]
    pg_missing = sum(lat.missing for lat in pg)
    goals = [
        Goal(
            f"activity: write-to-subscriber p99 <= {GOAL_P99_MS:g} ms on SQLite"
            f" (1 and {LATENCY_SUBSCRIBERS[-1]} subscribers)",
            worst.pct(0.99) <= GOAL_P99_MS and missing == 0,
            ", ".join(f"{lat.subscribers}: {lat.pct(0.99):.1f} ms" for lat in sqlite)
            + (f"; {missing} deliveries missing" if missing else ""),
        ),
        Goal(
            f"activity: write-to-subscriber p99 <= {GOAL_PG_P99_MS:g} ms on PostgreSQL"
            f" ({pg_top.subscribers} subscribers)",
            pg_top.pct(0.99) <= GOAL_PG_P99_MS and pg_missing == 0,
            ", ".join(f"{lat.subscribers}: {lat.pct(0.99):.1f} ms" for lat in pg)
            + (f"; {pg_missing} deliveries missing" if pg_missing else "")
            + f"; other CPU {pg_top.cpu.get('other', 0.0) * 100:.0f}%",
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
        [lat.cpu.get("other", 0.0) for lats in latencies.values() for lat in lats]
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
