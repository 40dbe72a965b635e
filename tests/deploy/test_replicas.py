"""Replicas for real: every process twice over PostgreSQL, one of each SIGKILLed.

Two replicas of each service, two sync workers and two gateways share a fresh
database; 16 clients (8 over gRPC, 8 over HTTP through the gateways) mix
reads with creates that carry a ``request_id``; four subscribers stream the
account's activity over one balanced channel; remote accounts on the
reference server change upstream all along. Mid-run one replica of every
kind is killed with SIGKILL, and later restarted on its port. Then: no
idempotent call failed, no create was made twice, every acknowledged write
is there, every subscriber resumed and saw exactly the log's one order, and
no two workers ever pulled one account at once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import account_service_pb2_grpc as acc_grpc
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import activity_service_pb2_grpc as act_grpc
from almanac.v1 import common_pb2
from almanac.v1 import contact_service_pb2 as ct_pb
from almanac.v1 import contact_service_pb2_grpc as ct_grpc
from almanac.v1 import event_service_pb2 as ev_pb
from almanac.v1 import event_service_pb2_grpc as ev_grpc
from google.protobuf import timestamp_pb2

from services.runtime.channels import sync_channel
from tests.connectors.reference.server import ReferenceServer
from tests.connectors.support import BACKENDS, eventually, upstream_event
from tests.deploy.clients import (
    BASE,
    SPAN_HOURS,
    GrpcClient,
    HttpClient,
    HttpSubscriber,
    Workload,
)
from tests.deploy.support import Fleet, ResumingSubscriber
from tests.helpers import pg_reachable
from tests.services.activity.support import (
    assert_same_sequence,
    create_pg_database,
    drop_pg_database,
)

# Sixteen processes on two cores: generous when the machine is shared.
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(600)]

SERVICES = ("account", "calendar", "event", "contact", "resource", "availability", "activity")
PULLS = {"list_calendars", "changes", "list_items"}
LEASE = 3.0  # seconds: a killed worker's accounts are taken over after it


@pytest.fixture
def upstream() -> Iterator[ReferenceServer]:
    server = ReferenceServer().start()
    server.latency = 0.02  # every pull takes a while: overlaps would show
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    assert pg_reachable(), "PostgreSQL must answer on 127.0.0.1:5432"
    url = create_pg_database()
    # Few connections per process: 16 processes share the server's 100.
    running = Fleet(
        url + "?pool_max=3", tmp_path / "logs", connector_backends=BACKENDS,
        sync_interval_seconds="0.4", sync_poll_seconds="0.05",
        sync_lease_seconds=str(LEASE), upstream_timeout_seconds="5",
        gateway_timeout_seconds="60",
        # Connections are recycled during the run too: streams are cut at the
        # end of the grace and resume like the killed ones.
        max_connection_age_ms="5000", max_connection_age_grace_ms="2000",
    )  # fmt: skip
    try:
        yield running
    finally:
        running.close()
        drop_pg_database(url)


def _start_everything(fleet: Fleet) -> None:
    fleet.start(["account"])  # migrates the store before the others start
    fleet.start(["account", *[n for n in SERVICES[1:] for _ in range(2)]])
    fleet.env["ALMANAC_SERVICE_ADDRESSES"] = ";".join(
        f"{name}={fleet.addresses(name)}" for name in SERVICES
    )
    fleet.start(["sync", "sync", "gateway", "gateway"])


def _kill_one_of_each(fleet: Fleet) -> list[tuple[str, int]]:
    killed = [(name, 0) for name in (*SERVICES, "sync", "gateway")]
    for name, index in killed:
        fleet.kill(name, index)
    return killed


def _run_for(work: Workload, seconds: float, calls: int) -> None:
    """Let the clients run ``seconds`` and make at least ``calls`` calls meanwhile
    (on a shared, slow machine the second takes longer; a stall fails)."""
    at = work.calls
    time.sleep(seconds)
    eventually(lambda: _assert(work.calls >= at + calls), 60, f"{calls} calls by the clients")


def _md(fleet: Fleet) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {fleet.secret}"),)


def _create_account(fleet: Fleet, account: acc_pb.Account, account_id: str) -> acc_pb.Account:
    with sync_channel(fleet.addresses("account")) as channel:
        created: acc_pb.Account = acc_grpc.AccountServiceStub(channel).CreateAccount(
            acc_pb.CreateAccountRequest(account=account, account_id=account_id),
            metadata=_md(fleet),
            timeout=30,
        )
    return created


def _remote_account(fleet: Fleet, upstream: ReferenceServer) -> str:
    user = "u" + uuid.uuid4().hex[:10]
    upstream.add_user(user)
    settings = acc_pb.CalDavSettings(
        url=upstream.url(user), username=user, password=upstream.password
    )
    _create_account(
        fleet,
        acc_pb.Account(
            connector=acc_pb.CONNECTOR_TYPE_CALDAV,
            settings=acc_pb.ConnectorSettings(caldav=settings),
        ),
        user,
    )
    return user


def _activity_log(fleet: Fleet, parent: str, cursor: str = "") -> tuple[list[Any], str]:
    with sync_channel(fleet.addresses("activity")) as channel:
        stub = act_grpc.ActivityServiceStub(channel)
        request = act_pb.ListActivitiesRequest(parent=parent, cursor=cursor, page_size=500)
        out: list[Any] = []
        while True:
            reply = stub.ListActivities(request, metadata=_md(fleet), timeout=30)
            out.extend(reply.activities)
            if not reply.next_page_token:
                return out, str(reply.latest_cursor)
            request.page_token = reply.next_page_token


class UpstreamChanges:
    """Another client of the upstream: a new event in a remote account every 0.2 s."""

    def __init__(self, upstream: ReferenceServer, users: list[str]) -> None:
        self.upstream = upstream
        self.users = users
        self.written: dict[str, set[str]] = {u: set() for u in users}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(0.2):
            user = self.users[n % len(self.users)]
            uid = f"up{n}"
            self.upstream.put(user, "cal0", uid, [upstream_event(uid, f"U{n}")])
            self.written[user].add(uid)
            n += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def _list_events(fleet: Fleet, calendar: str, start: int, end: int) -> list[ev_pb.Event]:
    with sync_channel(fleet.addresses("event")) as channel:
        stub = ev_grpc.EventServiceStub(channel)
        request = ev_pb.ListEventsRequest(
            parent=calendar,
            start_time=timestamp_pb2.Timestamp(seconds=start),
            end_time=timestamp_pb2.Timestamp(seconds=end),
            expansion=ev_pb.EXPANSION_MASTERS,
            page_size=500,
        )
        out: list[ev_pb.Event] = []
        while True:
            reply = stub.ListEvents(request, metadata=_md(fleet), timeout=30)
            out.extend(reply.events)
            if not reply.next_page_token:
                return out
            request.page_token = reply.next_page_token


def _contacts(fleet: Fleet, account: str) -> list[str]:
    with sync_channel(fleet.addresses("contact")) as channel:
        stub = ct_grpc.ContactServiceStub(channel)
        request = ct_pb.ListContactsRequest(parent=account, page_size=500)
        out: list[str] = []
        while True:
            reply = stub.ListContacts(request, metadata=_md(fleet), timeout=30)
            out.extend(c.name for c in reply.contacts)
            if not reply.next_page_token:
                return out
            request.page_token = reply.next_page_token


def _mirrored(fleet: Fleet, user: str) -> set[str]:
    # upstream_event places every event on 2026-11-02.
    events = _list_events(fleet, f"accounts/{user}/calendars/primary", 1_790_000_000, 1_800_000_000)
    return {e.ical_uid for e in events}


@dataclass
class Run:
    """Everything one run of the scenario drives."""

    work: Workload
    start: str  # the account's latest cursor before the run
    clients: list[Any]
    changes: UpstreamChanges
    stream_channel: grpc.Channel
    subscribers: list[ResumingSubscriber] = field(default_factory=list)
    http_subscribers: list[HttpSubscriber] = field(default_factory=list)

    def stop(self) -> None:
        self.work.stop.set()
        for client in self.clients:
            client.join()
        self.changes.stop()

    def close(self) -> None:
        self.stop()
        for subscriber in [*self.subscribers, *self.http_subscribers]:
            subscriber.stop()
        self.stream_channel.close()


def test_replicas_survive_a_sigkill_of_one_of_each(fleet: Fleet, upstream: ReferenceServer) -> None:
    _start_everything(fleet)
    local = _create_account(
        fleet,
        acc_pb.Account(
            connector=acc_pb.CONNECTOR_TYPE_LOCAL,
            settings=acc_pb.ConnectorSettings(local=acc_pb.LocalSettings()),
        ),
        f"t-{uuid.uuid4().hex[:12]}",
    )
    users = [_remote_account(fleet, upstream) for _ in range(3)]
    work = Workload(local.name, fleet.secret)
    gateways = fleet.addresses("gateway").split(",")
    clients: list[Any] = [GrpcClient(f"grpc{i}", work, fleet) for i in range(8)]
    clients += [HttpClient(f"http{i}", work, gateways) for i in range(8)]
    start = _activity_log(fleet, local.name)[1]
    changes = UpstreamChanges(upstream, users)
    run = Run(work, start, clients, changes, sync_channel(fleet.addresses("activity")))
    try:
        _scenario(fleet, upstream, run)
    finally:
        run.close()


def _scenario(fleet: Fleet, upstream: ReferenceServer, run: Run) -> None:
    """Clients and subscribers run; one of each kind is killed, then restarted; checks."""
    work, start = run.work, run.start
    for client in run.clients:
        client.start()
    gateways = fleet.addresses("gateway").split(",")
    # One channel: round_robin puts two streams on each activity replica; and
    # one NDJSON stream through each gateway.
    run.subscribers += [ResumingSubscriber(run.stream_channel, fleet.secret, work.account, start)
                        for _ in range(4)]  # fmt: skip
    run.http_subscribers += [HttpSubscriber(work, gateways, start, first) for first in (0, 1)]
    _run_for(work, 4, 150)
    calls_before_kill = work.calls
    killed_at = time.monotonic()
    killed = _kill_one_of_each(fleet)
    _run_for(work, 4, 150)
    calls_while_down = work.calls - calls_before_kill
    restarted_at = time.monotonic()
    fleet.restart(*killed)
    ready_at = time.monotonic()
    _run_for(work, 3, 100)
    run.stop()
    clients, subscribers, http_subscribers = run.clients, run.subscribers, run.http_subscribers
    resent = sum(c.resent for c in clients if isinstance(c, HttpClient))
    breaks = [len(s.breaks) for s in subscribers]
    codes = sorted({code for s in subscribers for _, code in s.breaks})
    http_breaks = [s.breaks for s in http_subscribers]
    print(
        f"\nreplicas: {work.calls} calls by 16 clients, {calls_while_down} while one of each "
        f"was down; {len(work.failures)} failed; {len(work.acked_events)} events and "
        f"{len(work.acked_contacts)} contacts created; {resent} HTTP requests resent to the "
        f"other gateway; stream resumptions per gRPC subscriber {breaks} ({', '.join(codes)}), "
        f"per HTTP subscriber {http_breaks}"
    )
    slow = [f"{what} at {began - killed_at:+.1f}s took {took:.1f}s"
            for began, took, what in sorted(work.slow)]  # fmt: skip
    slowest = max((took for _, took, _ in work.slow), default=0.0)
    print(f"restart at {restarted_at - killed_at:+.1f}s, ready at {ready_at - killed_at:+.1f}s; "
          f"{len(slow)} calls over 2 s, the slowest {slowest:.1f} s: {slow[:12]}")  # fmt: skip
    assert work.failures == [], f"{len(work.failures)} failed calls: {work.failures[:8]}"
    _check_writes(fleet, work)
    _check_streams(fleet, work.account, start, subscribers, killed_at)
    _check_http_streams(fleet, work.account, start, http_subscribers)
    _check_sync(fleet, upstream, run.changes, killed_at)


def _check_writes(fleet: Fleet, work: Workload) -> None:
    """Every acknowledged create is there once; nothing else was created."""
    acked = list(work.acked_events.values())
    assert len(acked) > 50, f"only {len(acked)} events created"
    assert len(set(acked)) == len(acked), "two acknowledged creates answered one event"
    events = [e.name for e in _list_events(fleet, work.calendar, BASE, BASE + SPAN_HOURS * 3600)]
    assert len(events) == len(set(events))
    missing = set(acked) - set(events)
    assert missing == set(), f"{len(missing)} acknowledged events are lost"
    assert len(events) == len(acked), f"{len(events) - len(acked)} events created twice"
    contacts = _contacts(fleet, work.account)
    assert sorted(contacts) == sorted(work.acked_contacts.values()), "contacts lost or doubled"
    log, _ = _activity_log(fleet, work.account)
    added = [a.resource for a in log if a.type == act_pb.ACTIVITY_TYPE_ADDED
             and a.resource_type == common_pb2.RESOURCE_TYPE_EVENT]  # fmt: skip
    assert sorted(added) == sorted(acked), "the log's ADDED events differ from the acked creates"


def _check_streams(fleet: Fleet, account: str, start: str, subscribers: list[ResumingSubscriber],
                   killed_at: float) -> None:  # fmt: skip
    """Each subscriber saw exactly the log, in its one order, across its resumptions."""
    log, end = _activity_log(fleet, account, start)
    for sub in subscribers:
        eventually(lambda s=sub: _assert(s.caught_up(end) or bool(s.failure)), 60, "caught up")
        assert sub.failure == "", sub.failure
        assert_same_sequence("subscriber", sub.activities, log)
    broke = [s for s in subscribers if any(at > killed_at for at, _ in s.breaks)]
    assert len(broke) >= 2, "the streams of the killed activity replica should have broken"


def _check_http_streams(fleet: Fleet, account: str, start: str,
                        subscribers: list[HttpSubscriber]) -> None:  # fmt: skip
    """The same through the gateways: the log's order, resumed across both kills."""
    log, end = _activity_log(fleet, account, start)
    expected = [a.cursor for a in log]
    for sub in subscribers:
        eventually(lambda s=sub: _assert(s.cursor >= end), 60, "an HTTP subscriber caught up")
        assert sub.cursors == expected, (
            f"HTTP subscriber: {len(sub.cursors)} activities, {len(expected)} in the log, "
            f"{len(sub.cursors) - len(set(sub.cursors))} duplicated"
        )
    # The one on the killed gateway broke, and so did the one whose gateway's
    # stream came from the killed activity replica.
    assert subscribers[0].breaks >= 1, "the stream through the killed gateway did not break"


def _check_sync(fleet: Fleet, upstream: ReferenceServer, changes: UpstreamChanges,
                killed_at: float) -> None:  # fmt: skip
    """All upstream changes mirrored, and no two pulls of one account at once."""
    for user, uids in changes.written.items():
        eventually(lambda u=user, w=uids: _assert(w <= _mirrored(fleet, u)), 60, f"{user} synced")
    overlapping = [o for o in upstream.overlaps if o[1] in PULLS]
    assert overlapping == [], f"two workers pulled one account at once: {overlapping[:5]}"
    after = {r[0] for r in upstream.requests if r[1] in PULLS and r[4] > killed_at + LEASE}
    assert set(changes.written) <= after, "some account was not synced after the kill"


def _assert(condition: bool) -> None:
    assert condition
