"""The activity stream under faults: kills, restarts, shutdown, slow readers, retention.

The processes here are killed and restarted, so the module runs its own set on a
SQLite store of its own (and the retention test another one).
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import timestamp_pb2

from tests.helpers import expect_error, list_all
from tests.services.activity.support import (
    ADDED,
    EVENT,
    Cluster,
    Subscriber,
    WriterLog,
    assert_same_sequence,
    check_stream_order,
    failure_of,
    new_calendar,
    new_event,
    percentile,
    run_threads,
    sqlite_cluster,
    stream_error,
)

Code = grpc.StatusCode
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = sqlite_cluster(tmp_path_factory.mktemp("activity-faults"))
    try:
        yield running
    finally:
        running.close()


class SteadyWriter:
    """Creates events one after the other on a thread until stopped."""

    def __init__(self, cluster: Cluster, calendar: str, pause: float = 0.01) -> None:
        self.cluster = cluster
        self.calendar = calendar
        self.pause = pause
        self.acked: list[str] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.acked.append(new_event(self.cluster.almanac, self.calendar).name)
            except grpc.RpcError as exc:
                err: Any = exc
                self.errors.append(f"{err.code().name}: {err.details()}")
            except BaseException as exc:
                self.errors.append(repr(exc))
                return
            time.sleep(self.pause)

    def wait_acked(self, count: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < count:
            assert time.monotonic() < deadline, f"only {len(self.acked)} writes acknowledged"
            time.sleep(0.01)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)
        assert not self._thread.is_alive()


# --- SIGKILL ---------------------------------------------------------------------------


def test_activity_service_killed_mid_stream_resumes_without_gap(cluster: Cluster) -> None:
    account = cluster.new_account()
    admin = cluster.activity()
    start = admin.latest()
    writer = SteadyWriter(cluster, account.primary)
    first: Subscriber | None = None
    second: Subscriber | None = None
    try:
        first = admin.subscribe("before the kill", parent=account.name, cursor=start, heartbeat=1)
        first.wait_count(15)
        cluster.kill("activity")
        first.wait_done(10)
        assert first.error is not None and first.error.code() == Code.UNAVAILABLE, (
            first._error_text()
        )
        resume_from = first.last_cursor
        assert resume_from
        written_while_down = len(writer.acked)
        time.sleep(0.3)  # writes go on while the activity service is down
        cluster.restart("activity")  # same store, same port
        assert len(writer.acked) > written_while_down
        second = cluster.activity().subscribe(
            "after the restart", parent=account.name, cursor=resume_from, heartbeat=1
        )
        second.wait_count(10)
        writer.stop()
        end = cluster.activity().latest()
        second.wait_cursor(end)
    finally:
        writer.stop()
        for sub in (first, second):
            if sub is not None:
                sub.stop()
    assert second is not None
    assert writer.errors == []
    expected, _ = cluster.activity().log(parent=account.name, cursor=start)
    check_stream_order(first)
    check_stream_order(second)
    assert_same_sequence("across the kill", first.activities + second.activities, expected)
    assert [a.resource for a in expected] == writer.acked


def _store_path(cluster: Cluster) -> str:
    return cluster.store_url[len("sqlite:///") :]


def _store_rows(cluster: Cluster, sql: str, *args: Any) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{_store_path(cluster)}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def test_event_service_killed_during_a_write_burst_keeps_log_and_data_in_agreement(
    cluster: Cluster,
) -> None:
    account = cluster.new_account()
    calendar = new_calendar(account, "Burst")
    admin = cluster.activity()
    start = admin.latest()
    watcher = admin.subscribe("watcher", parent=account.name, cursor=start, heartbeat=1)
    acked: list[list[str]] = [[] for _ in range(6)]
    failed: list[str] = []
    go_kill = threading.Event()

    def burst(i: int) -> None:
        for k in range(10_000):
            try:
                event = new_event(cluster.almanac, calendar.name, f"b{i}", f"w{i}-{k}")
            except grpc.RpcError as exc:
                err: Any = exc
                failed.append(f"{err.code().name}: {err.details()}")
                return
            acked[i].append(event.name)
            if sum(map(len, acked)) >= 60:
                go_kill.set()

    def kill_when_busy() -> None:
        go_kill.wait(20)
        cluster.kill("event")

    killer = threading.Thread(target=kill_when_busy, daemon=True)
    killer.start()
    run_threads(6, burst)
    killer.join(20)
    assert not cluster.procs["event"].alive()
    assert len(failed) == 6, "every writer should have seen the kill"
    cluster.restart("event")
    after = new_event(cluster.almanac, calendar.name, "after the restart")

    # The store itself: one ADDED activity per event row, nothing else, no orphans.
    rows = _store_rows(
        cluster,
        "SELECT id, deleted FROM events WHERE account_id = ? AND calendar_id = ?",
        account.id,
        calendar.name.rsplit("/", 1)[1],
    )
    event_names = {f"{calendar.name}/events/{r['id']}" for r in rows}
    assert all(r["deleted"] == 0 for r in rows)
    logged = _store_rows(
        cluster,
        "SELECT resource_name, activity_type, resource_type FROM activities"
        " WHERE account_id = ? AND calendar_id = ? AND resource_type = 'RESOURCE_TYPE_EVENT'"
        " ORDER BY cursor",
        account.id,
        calendar.name.rsplit("/", 1)[1],
    )
    logged_names = [r["resource_name"] for r in logged]
    assert {r["activity_type"] for r in logged} == {ADDED}
    assert len(logged_names) == len(set(logged_names)), "an event was logged twice"
    assert set(logged_names) == event_names, (
        f"events without activity: {sorted(event_names - set(logged_names))[:5]}; "
        f"activities without event: {sorted(set(logged_names) - event_names)[:5]}"
    )
    acknowledged = {name for names in acked for name in names}
    assert acknowledged | {after.name} <= event_names, "an acknowledged write was lost"
    assert len(event_names) <= len(acknowledged) + 6 + 1  # at most one in flight per writer

    # The same through the services: ListEvents and ListActivities agree with the store.
    listed = list_all(
        cluster.almanac.events().ListEvents,
        ev_pb.ListEventsRequest(
            parent=calendar.name,
            start_time=timestamp_pb2.Timestamp(seconds=1_790_000_000),
            end_time=timestamp_pb2.Timestamp(seconds=1_840_000_000),
        ),
        "events",
    )
    assert {e.name for e in listed} == event_names
    activities, end = admin.log(parent=account.name, cursor=start, resource_types=[EVENT])
    assert [a.resource for a in activities] == logged_names
    # And the stream open across the kill saw exactly the log.
    try:
        watcher.wait_cursor(end)
    finally:
        watcher.stop()
    assert_same_sequence("watcher", watcher.activities, activities)
    # Each writer's acknowledged events are in the log in the order it made them.
    position = {name: i for i, name in enumerate(logged_names)}
    for names in acked:
        assert [position[n] for n in names] == sorted(position[n] for n in names)


# --- SIGTERM ---------------------------------------------------------------------------------


def test_sigterm_ends_streams_with_unavailable_and_the_last_delivered_cursor(
    cluster: Cluster,
) -> None:
    account = cluster.new_account()
    proc = cluster.start_activity(grace_seconds="5", drain_seconds="0.2")
    doomed = cluster.activity(address=proc.address)
    start = doomed.latest()
    writer = SteadyWriter(cluster, account.primary)
    resumed: Subscriber | None = None
    try:
        busy = doomed.subscribe("busy", parent=account.name, cursor=start, heartbeat=1)
        from_now = doomed.subscribe("from now", parent=account.name, heartbeat=1)
        busy.wait_count(10)
        from_now.wait_count(3)
        stopped_at = time.monotonic()
        proc.proc.send_signal(signal.SIGTERM)
        busy.wait_done(10)
        from_now.wait_done(10)
        ended_after = time.monotonic() - stopped_at
        assert proc.proc.wait(10) == 0, proc.logs()
        # Resume on the surviving activity service from the reported cursor.
        failure = failure_of(Code.UNAVAILABLE, busy.error)
        resumed = cluster.activity().subscribe(
            "resumed",
            parent=account.name,
            cursor=failure.error_info.metadata["cursor"],
            heartbeat=1,
        )
        resumed.wait_count(5)
        writer.stop()
        end = cluster.activity().latest()
        resumed.wait_cursor(end)
    finally:
        writer.stop()
        if resumed is not None:
            resumed.stop()
    assert ended_after < 3.0, f"streams ended {ended_after:.1f}s after SIGTERM (grace 5 s)"
    for sub in (busy, from_now):
        failure = failure_of(Code.UNAVAILABLE, sub.error)
        assert failure.reason == "SERVER_SHUTDOWN"
        assert failure.error_info.metadata["cursor"] == sub.last_cursor, (
            f"{sub.label}: SERVER_SHUTDOWN cursor {failure.error_info.metadata['cursor']}, "
            f"last delivered {sub.last_cursor}"
        )
        assert sub.last_activity_cursor and sub.last_cursor >= sub.last_activity_cursor
    expected, _ = cluster.activity().log(parent=account.name, cursor=start)
    assert_same_sequence("across SIGTERM", busy.activities + resumed.activities, expected)


# --- slow subscriber -------------------------------------------------------------------------


# Without BDP probing the client's HTTP/2 window stays at 64 KiB, like a reader on
# a slow link; otherwise gRPC would buffer megabytes of the stream on its behalf.
SMALL_WINDOW = (("grpc.http2.bdp_probe", 0),)
BIG = 16_000  # characters of description per event


def test_slow_subscriber_is_cut_off_without_slowing_anyone(cluster: Cluster) -> None:
    account = cluster.new_account()
    proc = cluster.start_activity(activity_slow_seconds="1", activity_ring_size="100")
    client = cluster.activity(address=proc.address)
    start = client.latest()
    fast = client.subscribe("fast", parent=account.name, cursor=start, heartbeat=1)
    slow = cluster.activity(address=proc.address, options=SMALL_WINDOW).subscribe(
        "slow", parent=account.name, cursor=start, heartbeat=1
    )
    rest: Subscriber | None = None
    baseline, loaded = WriterLog(), WriterLog()

    def write(log: WriterLog, count: int) -> None:
        for _ in range(count):
            log.timed(lambda: new_event(cluster.almanac, account.primary, description="d" * BIG))

    try:
        write(baseline, 40)
        slow.wait_count(40)
        slow.pause()
        time.sleep(0.1)
        began = time.monotonic()
        run_threads(2, lambda _: write(loaded, 120))
        burst_seconds = time.monotonic() - began
        end = client.latest()
        fast.wait_cursor(end)
        time.sleep(1.5)  # the slow one has now been stuck for longer than slow_seconds
        slow.resume()
        slow.wait_done(15)
        failure = failure_of(Code.RESOURCE_EXHAUSTED, slow.error)
        cursor = failure.error_info.metadata["cursor"]
        rest = client.subscribe("resumed", parent=account.name, cursor=cursor, heartbeat=1)
        rest.wait_cursor(end)
    finally:
        for sub in (fast, slow, rest):
            if sub is not None:
                sub.stop()
    assert rest is not None
    expected, _ = client.log(parent=account.name, cursor=start, page_size=50)
    assert len(expected) == 40 + 240
    assert_same_sequence("fast", fast.activities, expected)
    assert fast.error is None or fast.error.code() == Code.CANCELLED
    assert failure.reason == "SUBSCRIBER_TOO_SLOW"
    assert len(slow.activities) < len(expected), "the slow subscriber was never cut off"
    assert cursor == slow.last_cursor, (
        f"SUBSCRIBER_TOO_SLOW says resume from {cursor}, but the last message the "
        f"subscriber received carries {slow.last_cursor}"
    )
    assert_same_sequence("slow, then resumed", slow.activities + rest.activities, expected)
    # Writers were not held up by the stuck subscriber.
    typical = percentile(baseline.latencies, 0.9)
    assert percentile(loaded.latencies, 0.9) < max(5 * typical, 0.25), (
        typical,
        percentile(loaded.latencies, 0.9),
    )
    assert burst_seconds < 20


# --- retention --------------------------------------------------------------------------------


RETENTION_DAYS = "0.00002"  # 1.728 seconds


@pytest.fixture
def short_memory(tmp_path: Path) -> Iterator[Cluster]:
    running = sqlite_cluster(
        tmp_path, names=("account", "activity"), activity_retention_days=RETENTION_DAYS
    )
    try:
        yield running
    finally:
        running.close()


def _wait_pruned(cluster: Cluster, cursor: str, what: str, within: float = 4.0) -> None:
    admin = cluster.activity()
    deadline = time.monotonic() + within
    while True:
        try:
            admin.page(parent="accounts/-", cursor=cursor)
        except grpc.RpcError as exc:
            err: Any = exc
            assert err.code() == Code.FAILED_PRECONDITION, err.details()
            return
        assert time.monotonic() < deadline, (
            f"{what}: activities older than the retention ({RETENTION_DAYS} days) were still "
            f"served {within:g} s later; cursor {cursor} never expired"
        )
        time.sleep(0.05)


def test_cursor_older_than_the_retention_must_resync(short_memory: Cluster) -> None:
    cluster = short_memory
    admin = cluster.activity()
    old_account = cluster.new_account()
    old, _ = admin.log(parent=old_account.name)
    assert len(old) == 2
    time.sleep(2.0)  # older than the retention now
    fresh = cluster.new_account()
    # Pruning starts with the service's feed (then runs every minute).
    trigger = admin.open(parent="accounts/-", heartbeat=1)
    try:
        _wait_pruned(cluster, old[0].cursor, "after a stream opened")
    finally:
        trigger.cancel()

    retained, latest = admin.log(parent="accounts/-")
    assert [a.resource for a in retained] == [fresh.name, fresh.primary]
    failure = expect_error(
        Code.FAILED_PRECONDITION,
        lambda: admin.page(parent="accounts/-", cursor=old[0].cursor),
    )
    assert failure.reason == "CURSOR_EXPIRED"
    oldest = failure.error_info.metadata["oldestCursor"]
    streamed = stream_error(
        Code.FAILED_PRECONDITION, admin, parent="accounts/-", cursor=old[0].cursor
    )
    assert streamed.reason == "CURSOR_EXPIRED"
    assert streamed.error_info.metadata["oldestCursor"] == oldest
    # The newest pruned activity's cursor is where the retained log starts.
    assert oldest == old[1].cursor
    # The oldest cursor is usable and loses nothing that is retained.
    assert admin.log(parent="accounts/-", cursor=oldest)[0] == retained
    sub = admin.subscribe("from oldestCursor", parent="accounts/-", cursor=oldest, heartbeat=1)
    oldest_sub = admin.subscribe(
        "OLDEST", parent="accounts/-", start_position=act_pb.START_POSITION_OLDEST, heartbeat=1
    )
    try:
        sub.wait_cursor(latest)
        oldest_sub.wait_cursor(latest)
    finally:
        sub.stop()
        oldest_sub.stop()
    assert_same_sequence("from oldestCursor", sub.activities, retained)
    assert_same_sequence("OLDEST after pruning", oldest_sub.activities, retained)
    # Per account too: the old account's own feed starts after the pruned part.
    assert admin.log(parent=old_account.name)[0] == []
    failure = expect_error(
        Code.FAILED_PRECONDITION,
        lambda: admin.page(parent=old_account.name, cursor=old[0].cursor),
    )
    assert failure.reason == "CURSOR_EXPIRED"
    # A resync: the latest cursor works.
    assert admin.page(parent="accounts/-", cursor=latest).latest_cursor == latest
    # What was pruned stays pruned across a restart.
    cluster.restart("activity")
    after_restart = expect_error(
        Code.FAILED_PRECONDITION,
        lambda: cluster.activity().page(parent="accounts/-", cursor=old[0].cursor),
    )
    assert after_restart.reason == "CURSOR_EXPIRED"


def test_restarted_service_prunes_without_any_stream(tmp_path: Path) -> None:
    """Retention applies to a service that only answers ListActivities, too."""
    cluster = sqlite_cluster(
        tmp_path,
        names=("account", "activity"),
        activity_retention_days="0.00001",  # 0.86 s
    )
    try:
        old_account = cluster.new_account()
        old, _ = cluster.activity().log(parent=old_account.name)
        time.sleep(1.0)
        cluster.restart("activity")  # "pruning runs at start and then every minute"
        _wait_pruned(cluster, old[0].cursor, "after a restart, with ListActivities only", 3.0)
        assert cluster.activity().log(parent=old_account.name)[0] == []
    finally:
        cluster.close()


def test_module_logs_have_no_traceback(cluster: Cluster) -> None:
    """No process of the module logged a traceback (a swallowed failure would hide here)."""
    logs = cluster.logs()
    assert "Traceback" not in logs, logs[-5000:]
