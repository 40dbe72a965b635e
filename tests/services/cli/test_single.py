"""``almanac up --single-process``: every service, the sync worker and the REST
gateway in one process, gRPC and HTTP/JSON on one port, stopped by SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import account_service_pb2_grpc as acc_grpc
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import calendar_service_pb2_grpc as cal_grpc
from almanac.v1 import event_service_pb2 as ev_pb
from almanac.v1 import event_service_pb2_grpc as ev_grpc
from google.protobuf import timestamp_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.catalog import CATALOG
from services.healthcheck import main as healthcheck_main
from services.single.port import PREFACE
from tests.helpers import REPO_ROOT, AuthedStub

# A regression bound well above the 80 MiB goal (which `make bench` reports):
# a jump past it means something heavy is loaded or retained at start-up.
RSS_BOUND_MIB = 120


@dataclass
class Single:
    proc: subprocess.Popen[bytes]
    port: int
    token: str
    log: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.fixture
def single(tmp_path: Path) -> Iterator[Single]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
    env.update(ALMANAC_SINGLE_PORT="0", ALMANAC_OTEL_EXPORTER="none", PYTHONPATH=str(REPO_ROOT))
    log = tmp_path / "single.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services", "up", "--single-process"], cwd=tmp_path, env=env,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"READY single 127\.0\.0\.1:(\d+)", log.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        token = (tmp_path / "data" / "admin-token").read_text().strip()
        yield Single(proc, int(found.group(1)), token, log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _grpc_calls(single: Single) -> str:
    """Calls three services over the one port; returns the created event's name."""
    with grpc.insecure_channel(single.address) as channel:
        accounts = AuthedStub(acc_grpc.AccountServiceStub(channel), single.token)
        account = accounts.GetAccount(acc_pb.GetAccountRequest(name="accounts/default"))
        assert account.name == "accounts/default"
        calendars = AuthedStub(cal_grpc.CalendarServiceStub(channel), single.token)
        listed = calendars.ListCalendars(cal_pb.ListCalendarsRequest(parent="accounts/default"))
        assert [c.name for c in listed.calendars] == ["accounts/default/calendars/primary"]
        events = AuthedStub(ev_grpc.EventServiceStub(channel), single.token)
        start = timestamp_pb2.Timestamp(seconds=1_800_000_000)
        end = timestamp_pb2.Timestamp(seconds=1_800_003_600)
        created = events.CreateEvent(
            ev_pb.CreateEventRequest(
                parent="accounts/default/calendars/primary",
                event=ev_pb.Event(
                    display_name="Over one port",
                    start={"date_time": start, "time_zone": "UTC"},
                    end={"date_time": end, "time_zone": "UTC"},
                ),
            )
        )
        got = events.GetEvent(ev_pb.GetEventRequest(name=created.name))
        assert got.display_name == "Over one port"
        return str(created.name)


def _health(single: Single) -> None:
    with grpc.insecure_channel(single.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        names = ["", *(e.full_name for e in CATALOG.values()), "almanac.v1.SyncWorker"]
        for name in names:
            reply = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, name


def test_one_process_serves_grpc_and_http_on_one_port(single: Single) -> None:
    event_name = _grpc_calls(single)
    _health(single)
    base = f"http://{single.address}"
    auth = {"Authorization": f"Bearer {single.token}"}
    # The gateway on the same port reads what gRPC wrote: one store, one process.
    reply = httpx.get(f"{base}/v1/{event_name}", headers=auth, timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.json()["displayName"] == "Over one port"
    # A POST starts with "P" like the HTTP/2 preface and must still reach the gateway.
    made = httpx.post(
        f"{base}/v1/accounts/default/calendars",
        headers=auth,
        json={"displayName": "Via HTTP", "timeZone": "Europe/Berlin"},
        timeout=10,
    )
    assert made.status_code == 200, made.text
    assert httpx.get(f"{base}/openapi.json", timeout=10).json()["paths"]
    assert httpx.get(f"{base}/v1/accounts/default/calendars", timeout=10).status_code == 401
    # The container health probe (deploy/) sees both protocols on the port.
    assert healthcheck_main([single.address, "almanac.v1.EventService"]) == 0
    assert healthcheck_main([f"{base}/openapi.json"]) == 0
    assert healthcheck_main([single.address, "almanac.v1.NoSuchService"]) == 1
    time.sleep(1.0)  # let start-up garbage and the first calls settle
    assert _rss_mib(single.proc.pid) <= RSS_BOUND_MIB
    single.proc.send_signal(signal.SIGTERM)
    assert single.proc.wait(30) == 0, single.output()
    assert "almanac-single stopped" in single.output()


def test_a_half_sent_preface_is_neither_route_and_does_not_block_others(single: Single) -> None:
    # A client that stops inside the preface is held (not routed) while
    # every other connection is served; closing it frees it.
    with socket.create_connection(("127.0.0.1", single.port), timeout=5) as stuck:
        stuck.sendall(PREFACE[:10])
        reply = httpx.get(f"http://{single.address}/openapi.json", timeout=10)
        assert reply.status_code == 200
        _health(single)
        stuck.shutdown(socket.SHUT_WR)
        stuck.settimeout(5)
        assert stuck.recv(100) == b""  # the listener closed it, nothing was answered
    single.proc.send_signal(signal.SIGTERM)
    assert single.proc.wait(30) == 0, single.output()
