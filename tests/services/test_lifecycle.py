"""Process lifecycle: health, reflection, graceful shutdown, crash durability.

These tests start their own service processes (not the shared ones), since
they stop or kill them.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import grpc
import pytest
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import calendar_service_pb2_grpc as cal_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.helpers import (
    PG_ADMIN_URL,
    AuthedStub,
    ServiceProcess,
    list_all,
    on_each_store,
    pg_reachable,
    service_env,
    start_service,
)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
CALENDAR_SERVICE = "almanac.v1.CalendarService"


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def own_store_url(store_kind: str, tmp_path: Path) -> Iterator[str]:
    """A store of its own for this test's processes: a new SQLite file or PG database."""
    if store_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'lifecycle.db'}"
        return
    if not pg_reachable():
        pytest.skip("no PostgreSQL server answers on 127.0.0.1:5432")
    name = f"almanac_life_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(urlsplit(PG_ADMIN_URL)._replace(path=f"/{name}"))
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def bootstrap_secret() -> str:
    return "life-" + secrets.token_hex(16)


@pytest.fixture
def calendar_process(
    own_store_url: str, bootstrap_secret: str, tmp_path: Path
) -> Iterator[ServiceProcess]:
    """A calendar service of its own, with a 1 s drain so shutdown is observable."""
    env = service_env(own_store_url, bootstrap_secret, drain_seconds="1.0", grace_seconds="2")
    proc = start_service("calendar", env, tmp_path / "logs")
    yield proc
    proc.terminate()


def _check(channel: grpc.Channel, service: str = "") -> Any:
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status


def test_health_is_serving(calendar_process: ServiceProcess) -> None:
    with grpc.insecure_channel(calendar_process.address) as channel:
        assert _check(channel) == SERVING
        assert _check(channel, CALENDAR_SERVICE) == SERVING
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=CALENDAR_SERVICE), timeout=5
        )
        assert next(watch).status == SERVING
        watch.cancel()


def test_reflection_lists_calendar_service(calendar_process: ServiceProcess) -> None:
    with grpc.insecure_channel(calendar_process.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        requests = iter(
            [
                reflection_pb2.ServerReflectionRequest(list_services=""),
                reflection_pb2.ServerReflectionRequest(file_containing_symbol=CALENDAR_SERVICE),
            ]
        )
        replies = list(stub.ServerReflectionInfo(requests, timeout=10))
    names = {s.name for s in replies[0].list_services_response.service}
    assert CALENDAR_SERVICE in names
    assert "grpc.health.v1.Health" in names
    assert replies[1].file_descriptor_response.file_descriptor_proto


def test_health_goes_not_serving_before_exit(calendar_process: ServiceProcess) -> None:
    seen: list[tuple[int, bool]] = []  # (status, process still running)
    first = threading.Event()
    ended = threading.Event()

    def watch() -> None:
        with grpc.insecure_channel(calendar_process.address) as channel:
            stream = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service=CALENDAR_SERVICE), timeout=30
            )
            try:
                for reply in stream:
                    seen.append((reply.status, calendar_process.alive()))
                    first.set()
            except grpc.RpcError:
                pass  # the server went away
            finally:
                ended.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert first.wait(10), "Watch sent no initial status"
    assert seen[0] == (SERVING, True)
    calendar_process.proc.terminate()  # SIGTERM
    # While draining, Check answers NOT_SERVING (the server still takes RPCs).
    checked: list[int] = []
    deadline = time.monotonic() + 5
    with grpc.insecure_channel(calendar_process.address) as channel:
        while time.monotonic() < deadline and calendar_process.alive():
            try:
                status = _check(channel, CALENDAR_SERVICE)
            except grpc.RpcError:
                break
            checked.append(status)
            if status == NOT_SERVING:
                break
            time.sleep(0.02)
    assert ended.wait(15), "the Watch stream did not end after shutdown"
    watcher.join(5)
    assert (NOT_SERVING, True) in seen, f"no NOT_SERVING before exit; saw {seen}"
    assert NOT_SERVING in checked, f"Check never answered NOT_SERVING; got {checked}"
    assert calendar_process.proc.wait(15) == 0, calendar_process.logs()


@on_each_store
def test_sigkill_after_acknowledged_creates_loses_nothing(
    own_store_url: str, bootstrap_secret: str, tmp_path: Path
) -> None:
    env = service_env(own_store_url, bootstrap_secret)
    first = start_service("calendar", env, tmp_path / "logs")
    created: list[str] = []
    try:
        channel = grpc.insecure_channel(first.address)
        stub = AuthedStub(cal_grpc.CalendarServiceStub(channel), bootstrap_secret)

        def create(i: int) -> str:
            reply = stub.CreateCalendar(
                cal_pb.CreateCalendarRequest(
                    parent="accounts/default",
                    calendar_id=f"k{i:03d}",
                    calendar=cal_pb.Calendar(display_name=f"Kill {i}"),
                )
            )
            return str(reply.name)

        with ThreadPoolExecutor(10) as pool:
            created = list(pool.map(create, range(50)))
        first.kill()  # SIGKILL right after the last acknowledged reply
        channel.close()
    finally:
        first.kill()
    assert len(created) == 50
    second = start_service("calendar", env, tmp_path / "logs")
    try:
        with grpc.insecure_channel(second.address) as channel:
            stub = AuthedStub(cal_grpc.CalendarServiceStub(channel), bootstrap_secret)
            listed = list_all(
                stub.ListCalendars,
                cal_pb.ListCalendarsRequest(parent="accounts/default", page_size=20),
                "calendars",
            )
            names = {c.name for c in listed}
            missing = sorted(set(created) - names)
            assert not missing, f"lost after SIGKILL: {missing}"
            for name in created[-5:]:
                stub.GetCalendar(cal_pb.GetCalendarRequest(name=name))
    finally:
        assert second.terminate() == 0, second.logs()
