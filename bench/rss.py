"""Idle RSS of every service in the catalog, next to a bare aio echo server.

What a service costs before it does anything: the interpreter, grpc,
protobuf descriptors, the store connection. The bare server is the floor.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.proc import ProcessGroup
from bench.procfs import rss_bytes
from bench.report import mib, progress, table
from bench.scenarios import Goal, RunConfig, scenario
from bench.servers import Store, start_echo, start_service

__all__ = ["run"]

IDLE_S = 2.0  # after READY: let start-up garbage, lazy imports and threads settle
GOAL_MIB = 80  # "MB" as ps and top count it: MiB


@scenario("rss", "idle RSS of every catalog service vs a bare aio echo server")
def run(cfg: RunConfig) -> list[Goal]:
    # Read at run time, so services added to the catalog are measured too.
    from services.catalog import CATALOG

    with (
        tempfile.TemporaryDirectory(prefix="almanac-bench-rss-") as tmp,
        ProcessGroup(Path(tmp)) as group,
    ):
        store = Store.fresh(Path(tmp))
        echo = start_echo(group, "aio")
        # One by one: the first migrates the shared store (as `almanac up` does up front).
        services = [start_service(group, name, store) for name in CATALOG]
        progress(f"{len(services)} services READY; idling {IDLE_S:g} s")
        time.sleep(IDLE_S)
        floor = rss_bytes(echo.pid)
        measured = [(child.name, rss_bytes(child.pid)) for child in services]

    rows = [["bare echo-aio", mib(floor), "-", "(floor)"]]
    for name, rss in measured:
        verdict = "PASS" if rss <= GOAL_MIB << 20 else "MISS"
        rows.append([name, mib(rss), f"+{mib(rss - floor)}", verdict])
    print(f"Idle RSS (VmRSS, MiB) after READY + {IDLE_S:g} s:\n")
    print(table(["process", "RSS MiB", "vs echo", "goal"], rows))
    worst_name, worst = max(measured, key=lambda item: item[1])
    goal = Goal(
        f"idle RSS <= {GOAL_MIB} MB per service",
        worst <= GOAL_MIB << 20,
        f"largest: {worst_name} {mib(worst)} MiB",
    )
    print(f"\nGoal: {goal.text}: {goal.verdict} ({goal.detail})")
    return [goal]
