"""The bench side of a load run: spawn `bench.load`, then summarise its windows."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from bench.proc import Child, ProcessGroup
from bench.scenarios import RunConfig

__all__ = ["Measurement", "measure"]


@dataclass(frozen=True)
class Measurement:
    """One target at one concurrency: medians over the repeated windows."""

    label: str
    concurrency: int
    response_bytes: int
    reps: tuple[dict[str, float], ...]

    def median(self, key: str) -> float:
        return statistics.median(r[key] for r in self.reps)

    @property
    def qps(self) -> float:
        return self.median("qps")

    @property
    def server_us_per_call(self) -> float:
        """Server CPU microseconds per call (median over the windows)."""
        return statistics.median(r["server_cpu"] / r["qps"] * 1e6 for r in self.reps if r["qps"])

    @property
    def spread(self) -> float:
        """(max - min) / median of the QPS windows: how noisy the machine was."""
        values = [r["qps"] for r in self.reps]
        return (max(values) - min(values)) / self.qps if self.qps else 0.0


def measure(
    group: ProcessGroup,
    server: Child,
    *,
    label: str,
    workload: str,
    concurrency: int,
    cfg: RunConfig,
    params: dict[str, Any] | None = None,
) -> Measurement:
    """Drive ``server`` with ``workload`` at ``concurrency`` from a separate process."""
    spec = {
        "workload": workload,
        "target": server.address,
        "server_pid": server.pid,
        "concurrency": concurrency,
        "warmup_s": cfg.warmup_s,
        "window_s": cfg.window_s,
        "repeat": cfg.repeat,
        "params": params or {},
    }
    budget = 30.0 + cfg.warmup_s + cfg.repeat * cfg.window_s  # + interpreter start, connect
    result = group.run_json(f"load-{label}-c{concurrency}", ["-m", "bench.load"], spec, budget)
    return Measurement(label, concurrency, int(result["response_bytes"]), tuple(result["reps"]))
