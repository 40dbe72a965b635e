"""Unary QPS: bare aio and sync echo servers vs the Calendar service's GetCalendar.

The bare servers show what Python gRPC itself can do on this machine; the
ratio says how much of that the Calendar service keeps after auth, the
interceptor chain, protobuf and the SQLite store.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.echo import PAYLOAD_BYTES
from bench.measure import Measurement, measure
from bench.proc import Child, ProcessGroup
from bench.report import progress, table
from bench.scenarios import Goal, RunConfig, scenario
from bench.servers import Store, start_echo, start_service

__all__ = ["run"]

PRIMARY = "accounts/default/calendars/primary"
GOAL_C = 16
GOAL_RATIO = 0.5
# Above this many cores used by other processes, a row's QPS says more about
# the neighbour than about the server.
NOISY_OTHER_CPU = 0.5
_HEADERS = ["scenario", "C", "QPS", "spread", "p50 ms", "p99 ms", "srv CPU", "srv us/call",
            "cli CPU", "other CPU", "vs best bare"]  # fmt: skip


@dataclass(frozen=True)
class _Target:
    label: str
    server: Child
    workload: str
    bare: bool
    params: dict[str, Any] = field(default_factory=dict)


@scenario("unary", "unary QPS and latency: bare aio/sync echo vs Calendar.GetCalendar")
def run(cfg: RunConfig) -> list[Goal]:
    with (
        tempfile.TemporaryDirectory(prefix="almanac-bench-unary-") as tmp,
        ProcessGroup(Path(tmp)) as group,
    ):
        store = Store.fresh(Path(tmp))
        echo_params = {"payload_bytes": PAYLOAD_BYTES}
        targets = [
            _Target("echo-aio", start_echo(group, "aio"), "echo", True, echo_params),
            _Target("echo-sync", start_echo(group, "sync"), "echo", True, echo_params),
            _Target(
                "GetCalendar",
                start_service(group, "calendar", store),
                "get_calendar",
                False,
                {"name": PRIMARY, "token": store.token},
            ),
        ]
        results: list[Measurement] = []
        # Targets take turns at each C, so a burst of noise from the shared
        # machine smears over all of them instead of hitting one.
        for c in cfg.concurrency:
            for t in targets:
                m = measure(
                    group,
                    t.server,
                    label=t.label,
                    workload=t.workload,
                    concurrency=c,
                    cfg=cfg,
                    params=t.params,
                )
                progress(f"{t.label} C={c}: {m.qps:,.0f} QPS")
                results.append(m)
    bare = {t.label for t in targets if t.bare}
    return _report(results, bare, cfg)


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
    goal_rows = [m for m in results if m.label not in bare and m.concurrency == GOAL_C]
    if not goal_rows:
        print(f"\n(no goal check: C={GOAL_C} was not measured)")
        return []
    ratio = goal_rows[0].qps / _best_bare(results, bare, GOAL_C)
    goal = Goal(
        f"GetCalendar at C={GOAL_C} >= {GOAL_RATIO} x best bare server",
        ratio >= GOAL_RATIO,
        f"{ratio:.2f} x",
    )
    print(f"\nGoal: {goal.text}: {goal.verdict} ({goal.detail})")
    busiest = max(m.median("other_cpu") for m in results)
    if busiest > NOISY_OTHER_CPU:
        print(
            f"Note: other processes used up to {busiest * 100:.0f}% CPU during the windows;"
            " the QPS figures are\n"
            "unreliable, compare 'srv us/call' or run again on a quiet machine."
        )
    return [goal]
