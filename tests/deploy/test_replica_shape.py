"""The replica shape as README's "Replicas over PostgreSQL" runs it: two
``almanac serve calendar`` and two ``almanac serve sync`` on one fresh
PostgreSQL database, sharing only the store URL, the secret key and the
bootstrap token; a round_robin client spreads its calls over both replicas."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import grpc
import pytest
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import calendar_service_pb2_grpc as cal_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.helpers import PG_ADMIN_URL, AuthedStub, ServiceProcess, service_env, start_service

ROUND_ROBIN = '{"loadBalancingConfig": [{"round_robin": {}}]}'
CREATE = "/almanac.v1.CalendarService/CreateCalendar OK"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[tuple[str, list[ServiceProcess], list[ServiceProcess]]]:
    name = f"almanac_replicas_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = urlunsplit(urlsplit(PG_ADMIN_URL)._replace(path=f"/{name}"))
    token = "replica-" + secrets.token_hex(16)
    env = service_env(url, token)  # one key for every process of the store
    procs: list[ServiceProcess] = []
    try:
        for process in ("calendar", "calendar", "sync", "sync"):
            procs.append(start_service(process, env, tmp_path / "logs"))
        yield token, procs[:2], procs[2:]
    finally:
        for proc in procs:
            proc.terminate()
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.postgres
def test_two_replicas_serve_one_store_and_share_the_calls(
    replicas: tuple[str, list[ServiceProcess], list[ServiceProcess]],
) -> None:
    token, calendars, workers = replicas
    assert len({p.address for p in calendars}) == 2  # two ports, one store
    target = "ipv4:" + ",".join(p.address for p in calendars)
    options = [("grpc.service_config", ROUND_ROBIN)]
    with grpc.insecure_channel(target, options=options) as channel:
        stub = AuthedStub(cal_grpc.CalendarServiceStub(channel), token)
        for i in range(8):
            stub.CreateCalendar(
                cal_pb.CreateCalendarRequest(
                    parent="accounts/default",
                    calendar=cal_pb.Calendar(display_name=f"R{i}", time_zone="UTC"),
                )
            )
    # round_robin spread the writes: each replica's access log has some.
    # (Access lines are written a moment after the call: wait for all eight.)
    deadline = time.monotonic() + 10
    while sum(served := [p.stderr_path.read_text().count(CREATE) for p in calendars]) < 8:
        assert time.monotonic() < deadline, served
        time.sleep(0.05)
    assert sum(served) == 8 and min(served) > 0, served
    # Either replica sees every write, and continues a listing the other began
    # (page tokens are signed with a key kept in the store).
    stubs = []
    for proc in calendars:
        channel = grpc.insecure_channel(proc.address)
        stubs.append((channel, AuthedStub(cal_grpc.CalendarServiceStub(channel), token)))
    try:
        (_, first), (_, second) = stubs
        page = first.ListCalendars(
            cal_pb.ListCalendarsRequest(parent="accounts/default", page_size=5)
        )
        rest = second.ListCalendars(
            cal_pb.ListCalendarsRequest(
                parent="accounts/default", page_size=50, page_token=page.next_page_token
            )
        )
        names = [c.display_name for c in (*page.calendars, *rest.calendars)]
        assert sorted(n for n in names if n.startswith("R")) == [f"R{i}" for i in range(8)]
        assert len(names) == len(set(names)) == 9  # and the bootstrap's primary calendar
    finally:
        for channel, _ in stubs:
            channel.close()
    for worker in workers:
        with grpc.insecure_channel(worker.address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="almanac.v1.SyncWorker"), timeout=5
            )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
