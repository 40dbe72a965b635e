"""``almanac up`` with ``metrics_port``: each process its own /metrics port
(the base plus its place in the suite), printed with the endpoints."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from services.cli import PROCESSES
from tests.helpers import REPO_ROOT
from tests.metrics_support import Scrape, promtool_check

ONLY = ("account", "sync", "gateway")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_block(size: int) -> int:
    """A base port with ``size`` free ports from it (checked, then used at once)."""
    for _ in range(200):
        base = random.randrange(20_000, 30_000)
        if all(_free(base + i) for i in range(size)):
            return base
    raise AssertionError("no block of free ports")


def test_up_gives_each_process_its_own_metrics_port(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
    base = _free_block(len(PROCESSES) + 3)
    # The service ports sit right after the metrics block.
    service_ports = {name: base + len(PROCESSES) + i for i, name in enumerate(ONLY)}
    env.update({f"ALMANAC_{n.upper()}_PORT": str(p) for n, p in service_ports.items()})
    env["ALMANAC_METRICS_PORT"] = str(base)
    env["PYTHONPATH"] = str(REPO_ROOT)
    only = [arg for name in ONLY for arg in ("--only", name)]
    log_path = tmp_path / "up.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services", "up", *only], cwd=tmp_path, env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while "Almanac is up" not in log_path.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        shown = log_path.read_text()
        for name in ONLY:
            port = base + PROCESSES.index(name)
            assert f"(metrics: http://127.0.0.1:{port}/metrics)" in shown, shown
            scrape = Scrape(f"127.0.0.1:{port}")
            assert scrape.value("process_cpu_seconds_total") > 0
            promtool_check(scrape.text)
        # The sync worker's health checks by `almanac up` went through the interceptor.
        sync = Scrape(f"127.0.0.1:{base + PROCESSES.index('sync')}")
        assert sync.value("almanac_rpc_requests_total", service="grpc.health.v1.Health") >= 1
        # Processes left out by --only keep their ports free.
        assert _free(base + PROCESSES.index("calendar"))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(60)
    assert code == 0, log_path.read_text()
