"""Unary QPS: bare gRPC echo servers vs Almanac's GetCalendar and CreateEvent.

The bare servers show what Python gRPC itself can do on this machine: grpc.aio
on the standard loop and on uvloop (Almanac's default loop), and the sync
server. The ratios say how much of that an Almanac call keeps after auth, the
interceptor, the access log, protobuf and the store: ``GetCalendar`` of the
primary calendar, and ``CreateEvent`` of new single events into a calendar
already holding the 10,000 events of the ``events`` scenario. Both run on
SQLite (group commit) and on PostgreSQL (a fresh database), in the same run.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import eventdata
from bench.echo import PAYLOAD_BYTES
from bench.measure import Measurement, measure
from bench.pgdb import fresh_database
from bench.proc import Child, ProcessGroup
from bench.report import progress, table
from bench.scenarios import Goal, RunConfig, scenario
from bench.servers import Store, seed_calendar, start_echo, start_service

__all__ = ["run"]

PRIMARY = "accounts/default/calendars/primary"
GOAL_C = 16
# (label, ratio to the best bare server at GOAL_C): the goals, on SQLite.
GOALS = (("GetCalendar", 0.5), ("CreateEvent", 0.2))
# Above this many cores used by other processes, a row's QPS says more about
# the neighbour than about the server.
NOISY_OTHER_CPU = 0.5
_HEADERS = ["scenario", "C", "QPS", "spread", "p50 ms", "p99 ms", "srv CPU", "srv us/call",
            "cli CPU", "other CPU", "vs best bare"]  # fmt: skip
# Every load process creates events from its own range of numbers (UIDs must not repeat).
_FIRST_EVENT = itertools.count(1_000_000, 1_000_000)


@dataclass(frozen=True)
class _Target:
    label: str
    server: Child
    workload: str
    bare: bool
    params: dict[str, Any] = field(default_factory=dict)


@scenario("unary", "unary QPS: bare aio/uvloop/sync echo vs GetCalendar and CreateEvent")
def run(cfg: RunConfig) -> list[Goal]:
    with (
        tempfile.TemporaryDirectory(prefix="almanac-bench-unary-") as tmp,
        ProcessGroup(Path(tmp)) as group,
        fresh_database("almanac_bench_unary") as pg_url,
    ):
        echo_params = {"payload_bytes": PAYLOAD_BYTES}
        targets = [
            _Target(f"echo-{mode}", start_echo(group, mode), "echo", True, echo_params)
            for mode in ("aio", "aio-uvloop", "sync")
        ]
        ics = Path(tmp) / "calendar.ics"
        ics.write_bytes(eventdata.ics_document(eventdata.generate(), "bench"))
        for suffix, store in (("", Store.fresh(Path(tmp))), ("-pg", Store.at(pg_url))):
            targets += _almanac_targets(group, store, ics, suffix)
        results: list[Measurement] = []
        # Targets take turns at each C, so a burst of noise from the shared
        # machine smears over all of them instead of hitting one.
        for c in cfg.concurrency:
            for t in targets:
                params = dict(t.params)
                if t.workload == "create_event":
                    params["first"] = next(_FIRST_EVENT)
                m = measure(
                    group, t.server, label=t.label, workload=t.workload,
                    concurrency=c, cfg=cfg, params=params,
                )  # fmt: skip
                progress(f"{t.label} C={c}: {m.qps:,.0f} QPS")
                results.append(m)
    bare = {t.label for t in targets if t.bare}
    return _report(results, bare, cfg)


def _almanac_targets(group: ProcessGroup, store: Store, ics: Path, suffix: str) -> list[_Target]:
    """The calendar and event services on ``store``, the calendar holding 10,000 events."""
    where = "PostgreSQL" if suffix else "SQLite"
    progress(f"{where}: starting the calendar and event services, importing 10,000 events")
    calendar = start_service(group, "calendar", store)
    event = start_service(group, "event", store)
    seed_calendar(group, store, calendar, ics, PRIMARY)
    params = {"name": PRIMARY, "parent": PRIMARY, "token": store.token}
    return [
        _Target(f"GetCalendar{suffix}", calendar, "get_calendar", False, params),
        _Target(f"CreateEvent{suffix}", event, "create_event", False, params),
    ]


def _best_bare(results: list[Measurement], bare: set[str], c: int) -> float:
    return max(m.qps for m in results if m.label in bare and m.concurrency == c)


def _report(results: list[Measurement], bare: set[str], cfg: RunConfig) -> list[Goal]:
    rows = []
    for m in results:
        ratio = m.qps / _best_bare(results, bare, m.concurrency)
        rows.append(
            [
                m.label,
                str(m.concurrency),
                f"{m.qps:,.0f}",
                f"{m.spread * 100:.0f}%" if len(m.reps) > 1 else "-",
                f"{m.median('p50_ms'):.2f}",
                f"{m.median('p99_ms'):.2f}",
                f"{m.median('server_cpu') * 100:.0f}%",
                f"{m.server_us_per_call:.0f}",
                f"{m.median('client_cpu') * 100:.0f}%",
                f"{m.median('other_cpu') * 100:.0f}%",
                f"{ratio:.2f}",
            ]
        )
    by_label = {m.label: m.response_bytes for m in results}
    sizes = ", ".join(f"{label} {size} B" for label, size in by_label.items())
    legend = [
        f"Each row: {cfg.warmup_s:g} s warm-up, then the median of {cfg.repeat} x"
        f" {cfg.window_s:g} s windows. Load: a separate process,",
        f"C coroutines on one grpc.aio channel. Responses: {sizes}.",
        "Almanac rows: access log, auth and the store on, as `almanac up` runs them;"
        " -pg = on PostgreSQL.",
        f"CPU columns: cores busy during the windows (100% = one of {os.cpu_count()}): the server,"
        " the load generator",
        "and everything else on the machine (high 'other' = a noisy neighbour starved the row).",
        "srv us/call: server CPU per call; steadier than QPS when a neighbour takes CPU.",
        "spread: (max - min) / median QPS over the windows."
        " vs best bare: QPS / best bare QPS at that C.",
        "",
    ]
    print("\n".join(legend))
    print(table(_HEADERS, rows))
    goals = []
    for label, want in GOALS:
        for suffix in ("", "-pg"):
            row = next(
                (m for m in results if m.label == label + suffix and m.concurrency == GOAL_C), None
            )
            if row is None:
                continue
            ratio = row.qps / _best_bare(results, bare, GOAL_C)
            if suffix:  # PostgreSQL: printed next to SQLite, the goal is SQLite's
                print(f"PostgreSQL: {label} at C={GOAL_C}: {ratio:.2f} x best bare"
                      f" ({row.qps:,.0f} QPS, {row.server_us_per_call:.0f} us/call)")  # fmt: skip
                continue
            goal = Goal(
                f"{label} at C={GOAL_C} >= {want} x best bare server (SQLite)",
                ratio >= want,
                f"{ratio:.2f} x: {row.qps:,.0f} QPS",
            )
            print(f"\nGoal: {goal.text}: {goal.verdict} ({goal.detail})")
            goals.append(goal)
    if not goals:
        print(f"\n(no goal check: C={GOAL_C} was not measured)")
    busiest = max(m.median("other_cpu") for m in results)
    if busiest > NOISY_OTHER_CPU:
        print(
            f"Note: other processes used up to {busiest * 100:.0f}% CPU during the windows;"
            " the QPS figures are\n"
            "unreliable, compare 'srv us/call' or run again on a quiet machine."
        )
    return goals
