"""The REST gateway: GET of one calendar over HTTP vs GetCalendar over gRPC, and SSE fan-out.

1. Unary: the calendar service and a gateway in front of it (``python -m
   gateway``), on one fresh SQLite store. At each concurrency C, in turns:
   ``bench.load`` calls GetCalendar directly (C coroutines, one grpc.aio
   channel), then wrk (Debian's, C code) sends ``GET /v1/accounts/default/
   calendars/primary`` with C connections to the gateway. Same warm-up,
   windows and repetitions as the other scenarios; the ratio is gateway QPS
   / direct QPS, and wrk's own CPU shows it is not the bottleneck.
2. Fan-out: the log is filled with CreateEvent calls, then 100 StreamActivity
   streams read every activity straight from the activity service, and 100
   SSE streams read the same through the gateway (`bench.gateway_clients`).
   Delivered messages per second = all streams' messages / wall time.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.measure import Measurement, measure
from bench.proc import BenchError, Child, ProcessGroup
from bench.procfs import busy_cpu_seconds, cpu_seconds
from bench.report import progress, table
from bench.scenarios import Goal, RunConfig, scenario
from bench.servers import Store, start_service

__all__ = ["run"]

PRIMARY = "accounts/default/calendars/primary"
GOAL_C = 16
GOAL_RATIO = 0.5
FANOUT_STREAMS = 100
_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _start_gateway(group: ProcessGroup, targets: dict[str, str]) -> Child:
    args = ["-m", "gateway", "--port", "0"]
    for service, address in targets.items():
        args += ["--target", f"{service}={address}"]
    return group.start_server("gateway", args)


def _wrk_window(url: str, token: str, c: int, seconds: float, pids: list[int]) -> dict[str, float]:
    """One wrk run; QPS, p50/p99 and the CPU of the servers and of wrk."""
    cpu0 = [cpu_seconds(p) for p in pids]
    busy0, t0, kids0 = busy_cpu_seconds(), time.monotonic(), os.times()
    done = subprocess.run(
        ["wrk", "-t1", f"-c{c}", f"-d{max(1, round(seconds))}s", "--latency",
         "-H", f"Authorization: Bearer {token}", url],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    elapsed = time.monotonic() - t0
    kids1 = os.times()
    if done.returncode != 0 or "Non-2xx" in done.stdout:
        raise BenchError(f"wrk failed or got errors:\n{done.stdout}\n{done.stderr}")
    qps = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    lat = {p: float(v) * _UNITS[u] for p, v, u in _LATENCY.findall(done.stdout)}
    server_cpu = sum(cpu_seconds(p) - c0 for p, c0 in zip(pids, cpu0, strict=True)) / elapsed
    client_cpu = (kids1.children_user + kids1.children_system
                  - kids0.children_user - kids0.children_system) / elapsed  # fmt: skip
    other = max(0.0, (busy_cpu_seconds() - busy0) / elapsed - server_cpu - client_cpu)
    return {"qps": qps, "p50_ms": lat.get("50", 0.0), "p99_ms": lat.get("99", 0.0),
            "server_cpu": server_cpu, "client_cpu": client_cpu, "other_cpu": other}  # fmt: skip


def _wrk(url: str, token: str, c: int, cfg: RunConfig, pids: list[int]) -> Measurement:
    _wrk_window(url, token, c, cfg.warmup_s, pids)
    reps = tuple(_wrk_window(url, token, c, cfg.window_s, pids) for _ in range(cfg.repeat))
    return Measurement("gateway GET", c, 0, reps)


def _unary(group: ProcessGroup, store: Store, cfg: RunConfig) -> list[Goal]:
    calendar = start_service(group, "calendar", store)
    gateway = _start_gateway(group, {"almanac.v1.CalendarService": calendar.address})
    url = f"{gateway.address}/v1/{PRIMARY}"
    rows, ratios = [], {}
    for c in cfg.concurrency:
        params = {"name": PRIMARY, "token": store.token}
        direct = measure(group, calendar, label="gRPC GetCalendar", workload="get_calendar",
                         concurrency=c, cfg=cfg, params=params)  # fmt: skip
        over_http = _wrk(url, store.token, c, cfg, [gateway.pid, calendar.pid])
        ratios[c] = over_http.qps / direct.qps
        progress(f"C={c}: gRPC {direct.qps:,.0f} QPS, gateway {over_http.qps:,.0f} QPS")
        for m in (direct, over_http):
            rows.append([m.label, str(c), f"{m.qps:,.0f}", f"{m.median('p50_ms'):.2f}",
                         f"{m.median('p99_ms'):.2f}", f"{m.median('server_cpu') * 100:.0f}%",
                         f"{m.median('client_cpu') * 100:.0f}%",
                         f"{m.median('other_cpu') * 100:.0f}%",
                         f"{ratios[c]:.2f}" if m is over_http else "1.00"])  # fmt: skip
    print("Load: bench.load (Python, grpc.aio) for gRPC; wrk -t1 (C) for HTTP, C connections.")
    print("srv CPU: gateway + calendar service (the HTTP rows), the service alone (gRPC rows).\n")
    print(table(["scenario", "C", "QPS", "p50 ms", "p99 ms", "srv CPU", "cli CPU", "other CPU",
                 "vs gRPC"], rows))  # fmt: skip
    if GOAL_C not in ratios:
        return []
    goal = Goal(f"gateway GET at C={GOAL_C} >= {GOAL_RATIO} x direct gRPC GetCalendar",
                ratios[GOAL_C] >= GOAL_RATIO, f"{ratios[GOAL_C]:.2f} x")  # fmt: skip
    print(f"\nGoal: {goal.text}: {goal.verdict} ({goal.detail})")
    return [goal]


def _fanout(group: ProcessGroup, store: Store, cfg: RunConfig) -> list[Goal]:
    events = start_service(group, "event", store)
    activity = start_service(group, "activity", store)
    gateway = _start_gateway(group, {"almanac.v1.ActivityService": activity.address})
    count = 200 if cfg.quick else 1000
    progress(f"fan-out: pre-loading {count} events")
    group.run_json("preload", ["-m", "bench.activity_writer"], {
        "mode": "preload", "event_target": events.address, "token": store.token,
        "parent": PRIMARY, "prefix": "gw-", "first_index": 500_000, "count": count,
        "concurrency": 16}, 120.0 + count / 10)  # fmt: skip
    # Activities of the account before the preload (its calendar, ...) count too.
    expect = count
    spec = {"streams": FANOUT_STREAMS, "parent": "accounts/default", "token": store.token,
            "expect": expect, "target": activity.address, "url": gateway.address}  # fmt: skip
    runs: dict[str, list[float]] = {"grpc": [], "sse": []}
    for _ in range(cfg.repeat):
        for mode in ("grpc", "sse"):
            out = group.run_json(f"fanout-{mode}", ["-m", "bench.gateway_clients"],
                                 {**spec, "mode": mode}, 300.0)  # fmt: skip
            runs[mode].append(out["messages"] / out["seconds"])
            progress(f"fan-out {mode}: {runs[mode][-1]:,.0f} messages/s "
                     f"(client CPU {out['client_cpu_s'] / out['seconds'] * 100:.0f}%)")  # fmt: skip
    grpc_rate, sse_rate = statistics.median(runs["grpc"]), statistics.median(runs["sse"])
    print(f"\nFan-out to {FANOUT_STREAMS} streams, {expect:,} activities each (median of "
          f"{cfg.repeat}):")  # fmt: skip
    print(table(["path", "messages/s", "vs gRPC"], [
        ["StreamActivity (gRPC)", f"{grpc_rate:,.0f}", "1.00"],
        ["activities:stream SSE via gateway", f"{sse_rate:,.0f}", f"{sse_rate / grpc_rate:.2f}"],
    ]))  # fmt: skip
    return [Goal(f"SSE fan-out to {FANOUT_STREAMS} streams via the gateway (report only)", True,
                 f"{sse_rate / grpc_rate:.2f} x gRPC")]  # fmt: skip


@scenario("gateway", "REST gateway: HTTP GET vs gRPC GetCalendar (wrk), SSE vs gRPC fan-out")
def run(cfg: RunConfig) -> list[Goal]:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (apt-get install wrk)")
    with (
        tempfile.TemporaryDirectory(prefix="almanac-bench-gateway-") as tmp,
        ProcessGroup(Path(tmp)) as group,
    ):
        store = Store.fresh(Path(tmp))
        goals = _unary(group, store, cfg)
        goals += _fanout(group, store, cfg)
    return goals
