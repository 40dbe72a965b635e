"""Many writers, many subscribers: every stream and every paged listing is the log.

Four threads create, update and delete calendars and events through the
Calendar and Event services (separate processes) while subscribers follow
``StreamActivity`` — from a cursor, from the oldest activity, joining mid-way
from an older cursor, filtered by calendar or by resource type, with a token
confined to one account — and a poller pages ``ListActivities`` behind them.
Afterwards each one's sequence must equal ``ListActivities`` paged from the
same start with the same filters: no gap, no duplicate, cursor order. And the
log must hold exactly one activity per acknowledged write, in each writer's
own order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from almanac.v1 import activity_service_pb2 as act_pb

from tests.helpers import TestAccount, pg_reachable
from tests.services.activity.support import (
    ADDED,
    CALENDAR,
    DELETED,
    EVENT,
    UPDATED,
    ActivityClient,
    Cluster,
    Op,
    Subscriber,
    WriterLog,
    assert_same_sequence,
    check_stream_order,
    create_pg_database,
    delete_calendar,
    delete_event,
    drop_pg_database,
    new_calendar,
    new_event,
    run_threads,
    sqlite_cluster,
    update_calendar,
    update_event,
)

pytestmark = pytest.mark.slow

WRITERS = 4
ROUNDS = 12  # about 6.5 writes per round and writer


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp(f"activity-concurrency-{request.param}")
    if request.param == "sqlite":
        running = sqlite_cluster(root)
        try:
            yield running
        finally:
            running.close()
        return
    if not pg_reachable():
        pytest.skip("no PostgreSQL server answers on 127.0.0.1:5432")
    url = create_pg_database()
    try:
        running = Cluster(url, root / "logs")
        try:
            yield running
        finally:
            running.close()
    finally:
        drop_pg_database(url)


def _writer(
    cluster: Cluster, account: TestAccount, progress: list[int], lock: threading.Lock
) -> WriterLog:
    """One writer's acknowledged changes, in the order it made them."""
    almanac = cluster.almanac
    log = WriterLog()

    def did(activity_type: int, resource_type: int, resource: str) -> None:
        log.ops.append(Op(activity_type, resource_type, resource))
        with lock:
            progress[0] += 1

    for round_ in range(ROUNDS):
        cal = log.timed(lambda: new_calendar(account, "Writer"))
        did(ADDED, CALENDAR, cal.name)
        in_cal = log.timed(lambda cal=cal: new_event(almanac, cal.name, "in calendar"))
        did(ADDED, EVENT, in_cal.name)
        in_primary = log.timed(lambda: new_event(almanac, account.primary, "in primary"))
        did(ADDED, EVENT, in_primary.name)
        log.timed(lambda e=in_cal: update_event(almanac, e.name, "renamed"))
        did(UPDATED, EVENT, in_cal.name)
        log.timed(lambda c=cal: update_calendar(almanac, c.name, "Renamed"))
        did(UPDATED, CALENDAR, cal.name)
        log.timed(lambda e=in_primary: delete_event(almanac, e.name))
        did(DELETED, EVENT, in_primary.name)
        if round_ % 2:
            log.timed(lambda e=in_cal: delete_event(almanac, e.name))
            did(DELETED, EVENT, in_cal.name)
            log.timed(lambda c=cal: delete_calendar(almanac, c.name))
            did(DELETED, CALENDAR, cal.name)
    return log


def _poll_pages(
    client: ActivityClient, start: str, stop: threading.Event, out: list[act_pb.Activity]
) -> None:
    """Follow the log with small pages while it grows, the way a poller would."""
    cursor = start
    while True:
        request = act_pb.ListActivitiesRequest(parent="accounts/-", cursor=cursor, page_size=7)
        while True:
            reply = client.stub.ListActivities(request, metadata=client.metadata, timeout=15)
            out.extend(reply.activities)
            assert reply.latest_cursor, "a page without latest_cursor"
            if not reply.next_page_token:
                break
            request.page_token = reply.next_page_token
        caught_up = reply.latest_cursor == cursor or not reply.activities
        cursor = reply.latest_cursor
        if stop.is_set() and caught_up:
            return
        time.sleep(0.01)


def test_concurrent_writers_and_subscribers_see_exactly_the_log(cluster: Cluster) -> None:
    account_a = cluster.new_account()
    account_b = cluster.new_account()
    admin = cluster.activity()
    token_b = cluster.almanac.token(["activity:read"], [account_b.name])
    confined_b = cluster.activity(token_b)
    start = admin.latest()

    subs: list[tuple[Subscriber, ActivityClient, dict[str, object]]] = []

    def subscribe(label: str, client: ActivityClient, **fields: object) -> Subscriber:
        sub = client.subscribe(label, heartbeat=1, **fields)
        subs.append((sub, client, fields))
        return sub

    everything = subscribe("all from cursor", admin, parent="accounts/-", cursor=start)
    subscribe("oldest", admin, parent="accounts/-", start_position=act_pb.START_POSITION_OLDEST)
    subscribe(
        "calendar filter", admin, parent=account_a.name, cursor=start, calendar=account_a.primary
    )
    subscribe("calendars only", admin, parent="accounts/-", cursor=start, resource_types=[CALENDAR])
    subscribe("account b via accounts/-", confined_b, parent="accounts/-", cursor=start)

    progress = [0]
    lock = threading.Lock()
    stop_polling = threading.Event()
    polled: list[act_pb.Activity] = []
    poller_error: list[BaseException] = []

    def poll() -> None:
        try:
            _poll_pages(admin, start, stop_polling, polled)
        except BaseException as exc:
            poller_error.append(exc)

    poller = threading.Thread(target=poll, name="poller", daemon=True)
    poller.start()

    accounts = [account_a, account_b]
    results: list[WriterLog] = []

    def write_all() -> None:
        results.extend(
            run_threads(WRITERS, lambda i: _writer(cluster, accounts[i % 2], progress, lock))
        )

    writing = threading.Thread(target=write_all, name="writers", daemon=True)
    writing.start()
    total = WRITERS * ROUNDS * 13 // 2
    # Mid-way: new subscribers join from an older cursor and from the oldest.
    deadline = time.monotonic() + 30
    while progress[0] < total // 3 and writing.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    seen = everything.activities
    assert len(seen) >= 5, "the first subscriber received almost nothing mid-way"
    older = seen[len(seen) // 3].cursor
    subscribe("joined mid-way from an older cursor", admin, parent="accounts/-", cursor=older)
    subscribe(
        "joined mid-way from the oldest, events of account a",
        admin,
        parent=account_a.name,
        start_position=act_pb.START_POSITION_OLDEST,
        resource_types=[EVENT],
    )
    subscribe(
        "joined mid-way, calendar filter",
        admin,
        parent="accounts/-",
        cursor=older,
        calendar=account_b.primary,
    )
    writing.join(60)
    assert not writing.is_alive(), "the writers did not finish"
    assert len(results) == WRITERS

    end = admin.latest()
    for sub, _, _ in subs:
        sub.wait_cursor(end, timeout=15)
    stop_polling.set()
    poller.join(30)
    assert not poller_error, f"the poller failed: {poller_error[0]!r}"
    for sub, _, _ in subs:
        sub.stop()
        assert sub.error is None or sub.error.code().name == "CANCELLED", sub._error_text()

    # Each subscriber's sequence is ListActivities from the same start, same filters.
    for sub, client, fields in subs:
        query = {k: v for k, v in fields.items() if k in ("parent", "cursor", "calendar")}
        if "resource_types" in fields:
            query["resource_types"] = fields["resource_types"]
        expected, latest = client.log(**query)
        assert latest == end, f"{sub.label}: ListActivities latest_cursor {latest} != {end}"
        check_stream_order(sub)
        assert_same_sequence(sub.label, sub.activities, expected)
        assert expected, f"{sub.label}: the filter matched nothing; the test proves little"
    log, _ = admin.log(parent="accounts/-", cursor=start)
    assert_same_sequence("ListActivities polled with small pages", polled, log)
    b_only, _ = confined_b.log(parent="accounts/-", cursor=start)
    assert {a.account for a in b_only} == {account_b.name}

    # The log is exactly the acknowledged writes, each writer's in its own order.
    ops = [op for result in results for op in result.ops]
    assert len(log) == len(ops), "the log does not hold exactly one activity per write"
    for i, result in enumerate(results):
        mine = {op.resource for op in result.ops}
        logged = [Op(a.type, a.resource_type, a.resource) for a in log if a.resource in mine]
        assert logged == result.ops, f"writer {i}: its activities differ from its writes"
    writers_interleaved = len({a.account for a in log[: len(log) // 2]})
    assert writers_interleaved == 2, "the writers did not run concurrently"


def test_cluster_logs_are_clean(cluster: Cluster) -> None:
    """No process of the run logged a traceback (a swallowed failure would hide here)."""
    logs = cluster.logs()
    assert "Traceback" not in logs, logs[-5000:]
