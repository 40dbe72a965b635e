"""Scale-out and the single-process shape, in one run.

1. Replicas over PostgreSQL (a fresh database): two replicas each of the
   calendar and event services. ``GetCalendar`` and ``CreateEvent`` at C=16,
   first against one replica, then against both (target
   ``ipv4:127.0.0.1:P1,127.0.0.1:P2`` with round_robin), with the ratio and
   the server CPU per call (summed over the replicas measured). On 2 shared
   cores a second replica cannot double anything: the client and PostgreSQL
   need CPU too; the ratio says what it buys here.
2. ``almanac up --single-process``: idle RSS after start-up, a few calls and
   a settle, against the 80 MiB goal; then what the one-port splice costs a
   gRPC call (``GetCalendar`` through the public port vs the internal one).
"""

from __future__ import annotations

import re
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from bench.measure import Measurement
from bench.pgdb import fresh_database
from bench.proc import Child, ProcessGroup
from bench.procfs import rss_bytes
from bench.report import mib, progress, table
from bench.scenarios import Goal, RunConfig, scenario
from bench.servers import Store, start_service

__all__ = ["run"]

PRIMARY = "accounts/default/calendars/primary"
C = 16
ROUND_ROBIN = '{"loadBalancingConfig": [{"round_robin": {}}]}'
IDLE_S = 2.0
RSS_GOAL_MIB = 80
_HEADERS = ["workload", "replicas", "QPS", "spread", "p50 ms", "p99 ms", "srv CPU",
            "srv us/call", "cli CPU", "other CPU"]  # fmt: skip


def _load(
    group: ProcessGroup,
    replicas: list[Child],
    *,
    label: str,
    workload: str,
    cfg: RunConfig,
    params: dict[str, str],
    concurrency: int = C,
) -> Measurement:
    """`bench.load` against ``replicas`` (round_robin when more than one)."""
    ports = [r.address.rsplit(":", 1)[1] for r in replicas]
    spec = {
        "workload": workload,
        "target": "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in ports),
        "service_config": ROUND_ROBIN,
        "server_pid": replicas[0].pid,
        "server_pids": [r.pid for r in replicas],
        "concurrency": concurrency,
        "warmup_s": cfg.warmup_s,
        "window_s": cfg.window_s,
        "repeat": cfg.repeat,
        "params": params,
    }
    budget = 30.0 + cfg.warmup_s + cfg.repeat * cfg.window_s
    name = f"load-{label}-{len(replicas)}r"
    result = group.run_json(name, ["-m", "bench.load"], spec, budget)
    return Measurement(label, concurrency, int(result["response_bytes"]), tuple(result["reps"]))


Run = tuple[int, Measurement]  # (replicas, what they did)


def _replicas(cfg: RunConfig, workdir: Path) -> list[Run]:
    with fresh_database("almanac_bench_scale") as url, ProcessGroup(workdir) as group:
        store = Store.at(url)
        # One by one: the first migrates and bootstraps (as almanac up does up front).
        calendars = [start_service(group, "calendar", store) for _ in range(2)]
        events = [start_service(group, "event", store) for _ in range(2)]
        progress(f"2 calendar + 2 event replicas READY on {urlsplit(url).path[1:]}")
        results: list[Run] = []
        for label, workload, servers, params in (
            ("GetCalendar", "get_calendar", calendars, {"name": PRIMARY, "token": store.token}),
            ("CreateEvent", "create_event", events, {"parent": PRIMARY, "token": store.token}),
        ):
            for n in (1, 2):
                # Each run creates events numbered from its own range (UIDs must not repeat).
                run_params = {**params, "first": str(n * 10_000_000)}
                m = _load(group, servers[:n], label=label, workload=workload,
                          cfg=cfg, params=run_params)  # fmt: skip
                progress(f"{label} x{n}: {m.qps:,.0f} QPS, {m.server_us_per_call:.0f} us/call")
                results.append((n, m))
    return results


def _row(m: Measurement, replicas: int) -> list[str]:
    return [
        m.label,
        str(replicas),
        f"{m.qps:,.0f}",
        f"{m.spread * 100:.0f}%" if len(m.reps) > 1 else "-",
        f"{m.median('p50_ms'):.2f}",
        f"{m.median('p99_ms'):.2f}",
        f"{m.median('server_cpu') * 100:.0f}%",
        f"{m.server_us_per_call:.0f}",
        f"{m.median('client_cpu') * 100:.0f}%",
        f"{m.median('other_cpu') * 100:.0f}%",
    ]


def _report_replicas(results: list[Run], cfg: RunConfig) -> None:
    print(
        f"Replicas over PostgreSQL, C={C} on one channel (round_robin over the replicas).\n"
        f"Each row: {cfg.warmup_s:g} s warm-up, median of {cfg.repeat} x {cfg.window_s:g} s"
        " windows; srv CPU sums the replicas measured;\n'other CPU' is mostly PostgreSQL.\n"
    )
    print(table(_HEADERS, [_row(m, n) for n, m in results]))
    print()
    for label in dict.fromkeys(m.label for _, m in results):
        one, two = (next(m for k, m in results if m.label == label and k == n) for n in (1, 2))
        print(
            f"{label}: 2 replicas / 1 = {two.qps / one.qps:.2f} x QPS;"
            f" server CPU per call {one.server_us_per_call:.0f} -> {two.server_us_per_call:.0f} us"
        )


def _internal_port(child: Child) -> str:
    """The single process's loopback gRPC port, from its start-up log line."""
    found = re.search(r"almanac-single listening on 127\.0\.0\.1:(\d+)", child.log_path.read_text())
    if found is None:
        raise child.fail("logged no internal gRPC address")
    return found.group(1)


def _single(cfg: RunConfig, workdir: Path) -> tuple[int, list[Measurement]]:
    home = workdir / "single"
    home.mkdir()
    with ProcessGroup(workdir) as group:
        store = Store.fresh(home)
        env = {**store.env, "ALMANAC_SINGLE_PORT": "0", "ALMANAC_OTEL_EXPORTER": "none"}
        child = group.start_server(
            "single", ["-m", "services", "up", "--single-process"], env, cwd=home
        )
        # A few calls of each kind: gRPC through the port, HTTP through the port.
        params = {"name": PRIMARY, "token": store.token}
        quick = RunConfig(quick=True, warmup_s=0.2, window_s=0.5, repeat=1)
        _load(group, [child], label="warm", workload="get_calendar", cfg=quick,
              params=params, concurrency=1)  # fmt: skip
        request = urllib.request.Request(
            f"http://{child.address}/v1/{PRIMARY}",
            headers={"Authorization": f"Bearer {store.token}"},
        )
        for _ in range(3):
            with urllib.request.urlopen(request, timeout=10) as reply:
                reply.read()
        time.sleep(IDLE_S)
        rss = rss_bytes(child.pid)
        progress(f"single process idle: {mib(rss)} MiB")
        internal = f"127.0.0.1:{_internal_port(child)}"
        direct = Child("internal", child.popen, child.log_path, internal)
        runs = []
        for label, target in (("via one port", child), ("direct", direct)):
            m = _load(group, [target], label=label, workload="get_calendar", cfg=cfg, params=params)
            progress(f"GetCalendar {label}: {m.qps:,.0f} QPS")
            runs.append(m)
    return rss, runs


def _report_single(rss: int, runs: list[Measurement]) -> Goal:
    spliced, direct = runs
    print(f"\nalmanac up --single-process: idle RSS (VmRSS) {mib(rss)} MiB"
          f" after start-up, a few gRPC and HTTP calls and {IDLE_S:g} s.")  # fmt: skip
    print(f"\nGetCalendar C={C} in the single process (SQLite), one port vs the internal port:\n")
    rows = [[m.label, *_row(m, 1)[2:]] for m in runs]
    print(table(["path", *_HEADERS[2:]], rows))
    cost = spliced.server_us_per_call - direct.server_us_per_call
    print(
        f"\nSplice cost: {spliced.qps / direct.qps:.2f} x the QPS,"
        f" {cost:+.0f} us of server CPU per call,"
        f" p50 {spliced.median('p50_ms') - direct.median('p50_ms'):+.2f} ms."
    )
    return Goal(
        f"single-process idle RSS <= {RSS_GOAL_MIB} MB",
        rss <= RSS_GOAL_MIB << 20,
        f"{mib(rss)} MiB",
    )


@scenario("scale", "1 vs 2 replicas over PostgreSQL; single-process RSS and splice cost")
def run(cfg: RunConfig) -> list[Goal]:
    with tempfile.TemporaryDirectory(prefix="almanac-bench-scale-") as tmp:
        results = _replicas(cfg, Path(tmp))
        rss, runs = _single(cfg, Path(tmp))
    _report_replicas(results, cfg)
    goal = _report_single(rss, runs)
    print(f"\nGoal: {goal.text}: {goal.verdict} ({goal.detail})")
    return [goal]
