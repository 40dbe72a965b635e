"""What the metrics cost on the hot path, in CPU time per call.

Two figures, measured in this process with ``time.process_time`` (the
CPU this process used, so a busy neighbour changes them little, unlike
QPS): one RPC observation (`services.runtime.metrics.RpcMetrics.observe`,
the cached path every RPC after a method's first takes), and one SQLite
transaction with and without `instrument_store`. The goal compares the
observation with the server time of one GetCalendar (about 600 us a call in
``--only unary`` on this machine): it should stay under 1 % of it.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import grpc

from bench.report import progress, table
from bench.scenarios import Goal, RunConfig, scenario
from connectors.store import Store, open_store
from services.runtime.metrics import RpcMetrics, instrument_store

__all__ = ["run"]

GOAL_NS = 6_000  # 1 % of a GetCalendar's ~600 us of server CPU
METHOD = "/almanac.v1.CalendarService/GetCalendar"


def _best_ns(fn: Callable[[], None], calls: int, repeat: int) -> float:
    """The fastest of ``repeat`` runs of ``calls`` calls, in CPU ns per call."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time_ns()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time_ns() - start) / calls)
    return best


def _observe_ns(cfg: RunConfig) -> float:
    metrics = RpcMetrics()

    def observe() -> None:
        metrics.observe(METHOD, grpc.StatusCode.OK, 0.0004, False)

    observe()  # resolve the labelled children once, as the first RPC does
    return _best_ns(observe, 20_000 if cfg.quick else 100_000, cfg.repeat + 2)


async def _transaction_ns(store: Store, calls: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time_ns()
        for n in range(calls):
            async with store.transaction() as tx:
                await tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                 "bench", str(n))  # fmt: skip
        best = min(best, (time.process_time_ns() - start) / calls)
    return best


async def _transactions(root: Path, cfg: RunConfig) -> tuple[float, float]:
    calls = 300 if cfg.quick else 2_000
    store = await open_store(f"sqlite:///{root / 'bench.db'}")
    try:
        plain = await _transaction_ns(store, calls, cfg.repeat)
        instrument_store(store)
        timed = await _transaction_ns(store, calls, cfg.repeat)
    finally:
        await store.close()
    return plain, timed


@scenario("metrics", "CPU cost of the metrics: one RPC observation, a timed store transaction")
def run(cfg: RunConfig) -> list[Goal]:
    progress("RpcMetrics.observe")
    observe = _observe_ns(cfg)
    progress("SQLite transactions with and without instrument_store")
    with tempfile.TemporaryDirectory(prefix="almanac-bench-metrics-") as tmp:
        plain, timed = asyncio.run(_transactions(Path(tmp), cfg))
    rows = [
        ["RpcMetrics.observe (unary, cached labels)", f"{observe:,.0f}", ""],
        ["SQLite transaction, plain", f"{plain:,.0f}", ""],
        ["SQLite transaction, timed", f"{timed:,.0f}", f"{timed - plain:+,.0f}"],
    ]
    print(table(["what", "CPU ns/call", "difference"], rows))
    return [
        Goal(
            f"one RPC observation < {GOAL_NS:,} ns CPU (1% of a GetCalendar)",
            observe < GOAL_NS,
            f"{observe:,.0f} ns",
        )
    ]
