"""``almanac up`` (what ``make run`` starts): every service, the sync worker
and the REST gateway, on a fresh laptop directory, stopped cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.cli import PROCESSES
from tests.helpers import REPO_ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_up_starts_everything_and_the_quick_start_works(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
    ports = {name: _free_port() for name in PROCESSES}
    env.update({f"ALMANAC_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env["PYTHONPATH"] = str(REPO_ROOT)
    with (tmp_path / "up.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services", "up"], cwd=tmp_path, env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while "Almanac is up" not in (tmp_path / "up.log").read_text():
            assert proc.poll() is None and time.monotonic() < deadline, (
                tmp_path / "up.log"
            ).read_text()
            time.sleep(0.2)
        shown = (tmp_path / "up.log").read_text()
        assert f"http://127.0.0.1:{ports['gateway']}" in shown
        token = (tmp_path / "data" / "admin-token").read_text().strip()
        reply = httpx.get(
            f"http://127.0.0.1:{ports['gateway']}/v1/accounts/default/calendars",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert reply.status_code == 200
        assert reply.json()["calendars"][0]["name"] == "accounts/default/calendars/primary"
        with grpc.insecure_channel(f"127.0.0.1:{ports['sync']}") as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="almanac.v1.SyncWorker"), timeout=5
            )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(60)
    assert code == 0, (tmp_path / "up.log").read_text()
