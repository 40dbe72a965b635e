"""What the metrics cost on the hot path, in CPU time per call.

Two figures, measured in this process with ``time.process_time`` (the
CPU this process used, so a busy neighbour changes them little, unlike
QPS): one RPC observation (`services.runtime.metrics.RpcMetrics.observe`,
the cached path every RPC after a method's first takes), and what
`instrument_store`'s wrapper adds to a transaction block, measured around a
block that does nothing (around a real SQLite write, the difference drowns
in the write's own variation), next to one real write for scale. The goal compares the
observation with the server time of one GetCalendar (about 600 us a call in
``--only unary`` on this machine): it should stay under 1 % of it.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from bench.report import progress, table
from bench.scenarios import Goal, RunConfig, scenario
from connectors.store import open_store
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


class _NoOpBlock:
    """A transaction block that does nothing: what is left is the wrapper's cost."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


class _NoOpStore:
    dialect = "sqlite"

    def transaction(self) -> _NoOpBlock:
        return _NoOpBlock()


async def _blocks_ns(open_tx: Callable[[], Any], calls: int) -> float:
    start = time.process_time_ns()
    for _ in range(calls):
        async with open_tx():
            pass
    return (time.process_time_ns() - start) / calls


async def _sqlite_ns(root: Path, calls: int) -> float:
    """One real SQLite write transaction, for scale (noisy on a busy machine)."""
    store = await open_store(f"sqlite:///{root / 'bench.db'}")
    try:
        start = time.process_time_ns()
        for n in range(calls):
            async with store.transaction() as tx:
                await tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                 "bench", str(n))  # fmt: skip
        return (time.process_time_ns() - start) / calls
    finally:
        await store.close()


async def _transactions(root: Path, cfg: RunConfig) -> tuple[float, float, float]:
    """The wrapper's own cost (best of runs, plain and timed alternated) and a real write."""
    calls = 20_000 if cfg.quick else 100_000
    store: Any = _NoOpStore()
    plain_tx = store.transaction
    instrument_store(store)
    plain = timed = float("inf")
    for _ in range(cfg.repeat + 2):
        plain = min(plain, await _blocks_ns(plain_tx, calls))
        timed = min(timed, await _blocks_ns(store.transaction, calls))
    return plain, timed, await _sqlite_ns(root, 300 if cfg.quick else 1_000)


@scenario("metrics", "CPU cost of the metrics: one RPC observation, a timed store transaction")
def run(cfg: RunConfig) -> list[Goal]:
    progress("RpcMetrics.observe")
    observe = _observe_ns(cfg)
    progress("SQLite transactions with and without instrument_store")
    with tempfile.TemporaryDirectory(prefix="almanac-bench-metrics-") as tmp:
        plain, timed, sqlite = asyncio.run(_transactions(Path(tmp), cfg))
    rows = [
        ["RpcMetrics.observe (unary, cached labels)", f"{observe:,.0f}"],
        ["instrument_store's wrapper (no-op block timed - plain)", f"{timed - plain:,.0f}"],
        ["one SQLite write transaction, for scale", f"{sqlite:,.0f}"],
    ]
    print(table(["what", "CPU ns/call"], rows))
    return [
        Goal(
            f"one RPC observation < {GOAL_NS:,} ns CPU (1% of a GetCalendar)",
            observe < GOAL_NS,
            f"{observe:,.0f} ns",
        )
    ]
