"""Client load balancing, retries and connection age against real replicas.

Two calendar replicas run on one PostgreSQL database; clients dial both
through `services.runtime.channels` (round_robin and the shipped retry
policy). Which replica served a call is read off each process's access log.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import account_service_pb2_grpc as acc_grpc
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import calendar_service_pb2_grpc as cal_grpc

from services.runtime.channels import sync_channel
from tests.connectors.support import eventually
from tests.deploy.support import Fleet, TcpProxy, served
from tests.helpers import REPO_ROOT, pg_reachable
from tests.services.activity.support import create_pg_database, drop_pg_database

# Many processes on two cores: generous when the machine is shared.
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(600)]

TZ = "CalendarService/ListTimeZones"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    assert pg_reachable(), "PostgreSQL must answer on 127.0.0.1:5432"
    url = create_pg_database()
    running = Fleet(url + "?pool_max=3", tmp_path_factory.mktemp("balancing"), access_log="true")
    try:
        running.start(["account"])  # migrates the store before the others start
        running.start(["calendar", "calendar"])
        yield running
    finally:
        running.close()
        drop_pg_database(url)


def _md(fleet: Fleet) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {fleet.secret}"),)


def _counts(fleet: Fleet, method: str = TZ) -> list[int]:
    return [served(p, method) for p in fleet.procs["calendar"]]


def _time_zones(stub: cal_grpc.CalendarServiceStub, fleet: Fleet) -> None:
    stub.ListTimeZones(cal_pb.ListTimeZonesRequest(page_size=1), metadata=_md(fleet), timeout=10)


def test_round_robin_spreads_calls_over_both_replicas(fleet: Fleet) -> None:
    before = _counts(fleet)
    with sync_channel(fleet.addresses("calendar")) as channel:
        stub = cal_grpc.CalendarServiceStub(channel)
        for _ in range(60):
            _time_zones(stub, fleet)

    def spread() -> list[int]:
        delta = [a - b for a, b in zip(_counts(fleet), before, strict=True)]
        assert sum(delta) == 60, delta  # the access log is written on a thread
        return delta

    delta = eventually(spread, 30, "60 access-log lines")
    assert min(delta) >= 15, f"calls per replica: {delta}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _almanac_call(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "services", "call", "CalendarService.ListTimeZones",
         '{"pageSize": 1}', *args],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_almanac_call_takes_several_addresses_and_skips_a_dead_one(fleet: Fleet) -> None:
    dead, live = f"127.0.0.1:{_free_port()}", fleet.procs["calendar"][1].address
    env = {**fleet.env, "ALMANAC_TOKEN": fleet.secret}
    for addresses in (f"{dead},{live}", f"{live},{dead}"):
        assert "timeZones" in _almanac_call(env, "--address", addresses)
    env["ALMANAC_SERVICE_ADDRESSES"] = f"calendar={dead},{live}"
    assert "timeZones" in _almanac_call(env)


class Load:
    """Threads calling ``work`` until stopped; every failure is kept."""

    def __init__(self, threads: int, work: Callable[[int, int], Any]) -> None:
        self.failures: list[str] = []
        self.done = 0
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(i, work), daemon=True) for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def _run(self, index: int, work: Callable[[int, int], Any]) -> None:
        n = 0
        while not self._stop.is_set():
            try:
                work(index, n)
                self.done += 1
            except grpc.RpcError as exc:
                err: Any = exc
                self.failures.append(f"{err.code().name}: {err.details()}")
            n += 1

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)


def test_a_replica_killed_mid_load_fails_no_read_and_duplicates_no_create(fleet: Fleet) -> None:
    account = _new_account(fleet)
    md = _md(fleet)
    acked: dict[str, str] = {}  # request_id -> the calendar created
    with sync_channel(fleet.addresses("calendar")) as channel:
        stub = cal_grpc.CalendarServiceStub(channel)
        primary = f"accounts/{account}/calendars/primary"

        def work(index: int, n: int) -> None:
            if index < 2:
                request_id = str(uuid.uuid4())
                created = stub.CreateCalendar(
                    cal_pb.CreateCalendarRequest(
                        parent=f"accounts/{account}",
                        calendar=cal_pb.Calendar(display_name=f"c{index}-{n}"),
                        request_id=request_id,
                    ),
                    metadata=md,
                    timeout=15,
                )
                acked[request_id] = created.name
            else:
                stub.GetCalendar(cal_pb.GetCalendarRequest(name=primary), metadata=md, timeout=15)
                _time_zones(stub, fleet)

        load = Load(6, work)
        try:
            # Counted in calls, not seconds: the machine may be shared and slow.
            eventually(lambda: _assert(load.done >= 30), 60, "calls before the kill")
            fleet.kill("calendar", 0)
            killed_at = load.done
            eventually(lambda: _assert(load.done > killed_at + 30), 60, "calls after the kill")
            fleet.restart(("calendar", 0))
            restarted = fleet.procs["calendar"][0]
            # The channel reconnects to the restarted replica by itself.
            eventually(lambda: _assert(served(restarted, TZ) > 10), 60, "calls on the restart")
        finally:
            load.stop()
    assert load.failures == [], load.failures[:5]
    names = list(acked.values())
    assert len(names) == len(set(names)), "two acknowledged creates answered one calendar"
    listed = _calendars(fleet, account)
    assert set(names) <= listed, "an acknowledged create is missing"
    assert len(listed) == len(names) + 1, "a create was made twice (or one without an ack)"


def _new_account(fleet: Fleet) -> str:
    account_id = f"t-{uuid.uuid4().hex[:12]}"
    with sync_channel(fleet.addresses("account")) as channel:
        acc_grpc.AccountServiceStub(channel).CreateAccount(
            acc_pb.CreateAccountRequest(
                account_id=account_id,
                account=acc_pb.Account(
                    connector=acc_pb.CONNECTOR_TYPE_LOCAL,
                    settings=acc_pb.ConnectorSettings(local=acc_pb.LocalSettings()),
                ),
            ),
            metadata=_md(fleet),
            timeout=15,
        )
    return account_id


def _assert(condition: bool) -> None:
    assert condition


def _calendars(fleet: Fleet, account: str) -> set[str]:
    with sync_channel(fleet.addresses("calendar")) as channel:
        stub = cal_grpc.CalendarServiceStub(channel)
        request = cal_pb.ListCalendarsRequest(parent=f"accounts/{account}", page_size=500)
        out: set[str] = set()
        while True:
            reply = stub.ListCalendars(request, metadata=_md(fleet), timeout=15)
            out |= {c.name for c in reply.calendars}
            if not reply.next_page_token:
                return out
            request.page_token = reply.next_page_token


def test_a_create_replayed_on_the_other_replica_returns_the_first_result(fleet: Fleet) -> None:
    # What a retry does after the first replica committed and died before its
    # answer: the same request, keyed by the same request_id, on the other one.
    request = cal_pb.CreateCalendarRequest(
        parent=f"accounts/{(account := _new_account(fleet))}",
        calendar=cal_pb.Calendar(display_name="once"),
        request_id=str(uuid.uuid4()),
    )
    answers = []
    for proc in fleet.procs["calendar"]:
        with grpc.insecure_channel(proc.address) as channel:
            answers.append(
                cal_grpc.CalendarServiceStub(channel).CreateCalendar(
                    request, metadata=_md(fleet), timeout=15
                )
            )
    assert answers[0] == answers[1]
    assert len(_calendars(fleet, account)) == 2  # primary and this one


def _through_proxy(fleet: Fleet, proxy: TcpProxy, before_switch: float, after: float,
                   switch_to: list[str]) -> None:  # fmt: skip
    """Calls over one plain channel through ``proxy``, which then sends new
    connections to ``switch_to`` only."""
    with grpc.insecure_channel(proxy.address) as channel:
        stub = cal_grpc.CalendarServiceStub(channel)
        deadline = time.monotonic() + before_switch
        while time.monotonic() < deadline:
            _time_zones(stub, fleet)
            time.sleep(0.02)
        proxy.backends = switch_to
        deadline = time.monotonic() + after
        while time.monotonic() < deadline:
            _time_zones(stub, fleet)
            time.sleep(0.02)


def test_without_a_connection_age_a_client_stays_on_its_first_replica(fleet: Fleet) -> None:
    first, second = fleet.procs["calendar"]
    proxy = TcpProxy([first.address])
    try:
        before = served(second, TZ)
        _through_proxy(fleet, proxy, 0.5, 3.0, [second.address])
    finally:
        proxy.close()
    assert proxy.connections == [first.address]  # the default age is minutes
    time.sleep(0.5)
    assert served(second, TZ) == before


def test_the_maximum_connection_age_moves_a_long_lived_client_to_a_new_replica(
    fleet: Fleet,
) -> None:
    aged = {"ALMANAC_MAX_CONNECTION_AGE_MS": "1000", "ALMANAC_MAX_CONNECTION_AGE_GRACE_MS": "500"}
    fleet.start(["calendar"], env=aged)
    old = fleet.procs["calendar"][-1]
    proxy = TcpProxy([old.address])
    new: Any = None
    try:
        with grpc.insecure_channel(proxy.address) as channel:
            stub = cal_grpc.CalendarServiceStub(channel)
            for _ in range(20):
                _time_zones(stub, fleet)
            fleet.start(["calendar"], env=aged)  # a replica added while the client runs
            new = fleet.procs["calendar"][-1]
            proxy.backends = [new.address]
            # GOAWAY after about a second (+-10%), so the client reconnects
            # within a few; counted generously for a slow, shared machine.
            deadline = time.monotonic() + 60
            while served(new, TZ) <= 20 and time.monotonic() < deadline:
                _time_zones(stub, fleet)
                time.sleep(0.02)
    finally:
        proxy.close()
    assert new.address in proxy.connections, proxy.connections
    assert served(new, TZ) > 20, "the client never moved to the new replica"
