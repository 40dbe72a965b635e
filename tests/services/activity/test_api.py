"""ActivityService requests: paging, cursors, access, heartbeats, start positions, Node.

One set of real processes (account, calendar, event, activity) on a SQLite
store of this module; each test works in fresh accounts.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import common_pb2

from tests.helpers import REPO_ROOT, expect_error
from tests.services.activity.support import (
    ACCOUNT,
    ADDED,
    CALENDAR,
    DELETED,
    EVENT,
    UPDATED,
    ActivityClient,
    Cluster,
    assert_same_sequence,
    check_stream_order,
    delete_event,
    new_calendar,
    new_event,
    run_threads,
    sqlite_cluster,
    stream_error,
    update_event,
)

Code = grpc.StatusCode
NODE_SUBSCRIBER = Path(__file__).resolve().parent / "subscriber.js"
NODE_DEPS = ("@grpc/grpc-js", "@grpc/proto-loader")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = sqlite_cluster(tmp_path_factory.mktemp("activity-api"))
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def admin(cluster: Cluster) -> ActivityClient:
    return cluster.activity()


def _future(cursor: str, ahead: int = 1000) -> str:
    """A well-formed cursor past the end of the log (cursors are 16 hex digits)."""
    return f"{int(cursor, 16) + ahead:016x}"


# --- ListActivities ------------------------------------------------------------------


def test_list_pages_follow_the_log(cluster: Cluster, admin: ActivityClient) -> None:
    account = cluster.new_account()
    other = new_calendar(account, "Other")
    events = [new_event(cluster.almanac, account.primary, f"e{i}") for i in range(9)]
    others = [new_event(cluster.almanac, other.name, f"o{i}") for i in range(4)]
    update_event(cluster.almanac, events[0].name, "changed")
    delete_event(cluster.almanac, events[1].name)

    full, latest = admin.log(parent=account.name)
    assert [(a.type, a.resource_type, a.resource) for a in full] == [
        (ADDED, ACCOUNT, account.name),
        (ADDED, CALENDAR, account.primary),
        (ADDED, CALENDAR, other.name),
        *[(ADDED, EVENT, e.name) for e in events],
        *[(ADDED, EVENT, e.name) for e in others],
        (UPDATED, EVENT, events[0].name),
        (DELETED, EVENT, events[1].name),
    ]
    assert latest == full[-1].cursor
    for activity in full:
        assert activity.account == account.name
        assert activity.name == f"{account.name}/activities/{activity.cursor}"
        assert activity.HasField("create_time")
        assert activity.WhichOneof("snapshot")
    assert full[-2].changed_fields.paths == ["display_name"]
    assert full[-2].event_snapshot.display_name == "changed"
    assert full[-1].event_snapshot.name == events[1].name

    # Pages of 4: full pages carry a token and their last cursor; the last page none.
    request = act_pb.ListActivitiesRequest(parent=account.name, page_size=4)
    pages: list[act_pb.ListActivitiesResponse] = []
    while True:
        reply = admin.stub.ListActivities(request, metadata=admin.metadata, timeout=15)
        pages.append(reply)
        if not reply.next_page_token:
            break
        request.page_token = reply.next_page_token
    assert [len(p.activities) for p in pages] == [4, 4, 4, 4, 2]
    assert [a for p in pages for a in p.activities] == full
    for page in pages:
        assert page.latest_cursor == page.activities[-1].cursor

    # From a cursor (exclusive), and nothing after the end.
    middle = full[5].cursor
    assert admin.log(parent=account.name, cursor=middle)[0] == full[6:]
    reply = admin.page(parent=account.name, cursor=latest)
    assert list(reply.activities) == [] and not reply.next_page_token
    assert reply.latest_cursor == latest

    # Filters: one calendar (itself and its events), resource types.
    in_other, _ = admin.log(parent=account.name, calendar=other.name)
    assert [a.resource for a in in_other] == [other.name, *[e.name for e in others]]
    assert all(a.calendar == other.name for a in in_other)
    calendars, _ = admin.log(parent=account.name, resource_types=[CALENDAR])
    assert [a.resource for a in calendars] == [account.primary, other.name]
    both, _ = admin.log(parent=account.name, resource_types=[ACCOUNT, CALENDAR])
    assert [a.resource for a in both] == [account.name, account.primary, other.name]
    unspecified, _ = admin.log(
        parent=account.name, resource_types=[common_pb2.RESOURCE_TYPE_UNSPECIFIED]
    )
    assert unspecified == full
    paged, _ = admin.log(parent=account.name, calendar=account.primary, page_size=2)
    assert paged == [a for a in full if a.calendar == account.primary]


def test_list_latest_cursor_resumes_filtered_listings(
    cluster: Cluster, admin: ActivityClient
) -> None:
    account = cluster.new_account()
    other = new_calendar(account)
    new_event(cluster.almanac, other.name)
    first, latest = admin.log(parent=account.name, calendar=other.name)
    assert [a.resource_type for a in first] == [CALENDAR, EVENT]
    # Only filtered-out activity follows: nothing matches after `latest`...
    for _ in range(3):
        new_event(cluster.almanac, account.primary)
    reply = admin.page(parent=account.name, calendar=other.name, cursor=latest)
    assert list(reply.activities) == [] and not reply.next_page_token
    # ...and resuming from the returned cursor loses nothing that matches later.
    # (The proto documents "the request's cursor when none matched"; the server
    # may also return a later cursor past the filtered-out activity.)
    assert reply.latest_cursor in (latest, admin.latest())
    late = new_event(cluster.almanac, other.name)
    again, _ = admin.log(parent=account.name, calendar=other.name, cursor=reply.latest_cursor)
    assert [a.resource for a in again] == [late.name]


def test_list_page_size_defaults_and_limits(cluster: Cluster, admin: ActivityClient) -> None:
    account = cluster.new_account()
    other = new_calendar(account)

    def create(i: int) -> None:
        for k in range(26):
            new_event(cluster.almanac, other.name, f"w{i}-{k}")

    run_threads(4, create)
    everything, _ = admin.log(parent=account.name, page_size=1000)
    assert len(everything) == 3 + 104
    default = admin.page(parent=account.name)
    assert len(default.activities) == 100 and default.next_page_token
    assert default.latest_cursor == default.activities[-1].cursor
    coerced = admin.page(parent=account.name, page_size=5000)
    assert list(coerced.activities) == everything and not coerced.next_page_token
    failure = expect_error(
        Code.INVALID_ARGUMENT, lambda: admin.page(parent=account.name, page_size=-1)
    )
    assert failure.fields == {"page_size"}


def test_list_page_token_rules(cluster: Cluster, admin: ActivityClient) -> None:
    account = cluster.new_account()
    for i in range(5):
        new_event(cluster.almanac, account.primary, f"e{i}")
    full, _ = admin.log(parent=account.name)
    first = admin.page(parent=account.name, page_size=2)
    token = first.next_page_token
    assert token
    # The filters must be the same as the first page's.
    failure = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: admin.page(
            parent=account.name, page_size=2, page_token=token, resource_types=[EVENT]
        ),
    )
    assert failure.fields == {"page_token"}
    failure = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: admin.page(parent=account.name, page_size=2, page_token=token[:-3] + "AAA"),
    )
    assert failure.fields == {"page_token"}
    # A different page size is fine.
    second = admin.page(parent=account.name, page_size=3, page_token=token)
    assert list(second.activities) == full[2:5]
    # `cursor` is ignored when `page_token` is set (ListActivitiesRequest.cursor).
    try:
        ignored = admin.page(
            parent=account.name, page_size=2, page_token=token, cursor=full[0].cursor
        )
    except grpc.RpcError as exc:
        err: Any = exc
        raise AssertionError(
            "ListActivities with page_token must ignore cursor, but it failed: "
            f"{err.code().name}: {err.details()}"
        ) from None
    assert list(ignored.activities) == full[2:4]


LARGE = 65_000  # characters of description: about 65 KB per activity


def test_list_pages_fit_the_message_size_limit(tmp_path: Path) -> None:
    """page_size is a maximum: a page must never exceed what the server may send
    (max_send_message_bytes, 16 MiB by default), even with page_size 1000."""
    cluster = sqlite_cluster(tmp_path, names=("account", "event", "activity"))
    try:
        account = cluster.new_account()

        def create(i: int) -> None:
            for k in range(68):
                new_event(cluster.almanac, account.primary, f"w{i}-{k}", description="d" * LARGE)

        run_threads(4, create)
        big = cluster.activity(options=(("grpc.max_receive_message_length", 64 << 20),))
        pages: list[act_pb.ListActivitiesResponse] = []
        request = act_pb.ListActivitiesRequest(parent=account.name, page_size=1000)
        while True:
            try:
                reply = big.stub.ListActivities(request, metadata=big.metadata, timeout=30)
            except grpc.RpcError as exc:
                err: Any = exc
                raise AssertionError(
                    f"ListActivities page_size=1000 over {272 * LARGE >> 20} MiB of activities "
                    f"failed: {err.code().name}: {err.details()}"
                ) from None
            pages.append(reply)
            if not reply.next_page_token:
                break
            request.page_token = reply.next_page_token
        assert all(p.ByteSize() <= 16 << 20 for p in pages)
        assert sum(len(p.activities) for p in pages) == 2 + 272
    finally:
        cluster.close()


# --- cursors ----------------------------------------------------------------------------


MALFORMED = [
    "not-a-cursor",
    "12",
    "00000000000000zz",
    "00000000000000AB",  # upper case: not a cursor this server issued
    " 0000000000000001",
    "0000000000000001/",
    "00000000000000000001",
]


@pytest.mark.parametrize("cursor", MALFORMED)
def test_malformed_cursor_is_invalid(admin: ActivityClient, cursor: str) -> None:
    failure = expect_error(
        Code.INVALID_ARGUMENT, lambda: admin.page(parent="accounts/-", cursor=cursor)
    )
    assert failure.fields == {"cursor"}
    assert "cursor" in failure.message
    failure = stream_error(Code.INVALID_ARGUMENT, admin, parent="accounts/-", cursor=cursor)
    assert failure.fields == {"cursor"}


def test_cursor_from_the_future_is_invalid(cluster: Cluster, admin: ActivityClient) -> None:
    account = cluster.new_account()
    latest = admin.latest()
    for cursor in (_future(latest, 1), _future(latest, 10_000), "ffffffffffffffff"):
        failure = expect_error(
            Code.INVALID_ARGUMENT, lambda c=cursor: admin.page(parent="accounts/-", cursor=c)
        )
        assert failure.fields == {"cursor"}
        failure = stream_error(Code.INVALID_ARGUMENT, admin, parent=account.name, cursor=cursor)
        assert failure.fields == {"cursor"}
    # The latest cursor itself is fine: nothing after it yet.
    assert admin.page(parent="accounts/-", cursor=latest).latest_cursor == latest


# --- access ----------------------------------------------------------------------------------


def test_foreign_account_and_missing_scope_are_denied(cluster: Cluster) -> None:
    mine, theirs = cluster.new_account(), cluster.new_account()
    reader = cluster.activity(mine.token("activity:read"))
    for parent in (theirs.name, "accounts/default"):
        failure = expect_error(Code.PERMISSION_DENIED, lambda p=parent: reader.page(parent=p))
        assert failure.reason == "ACCOUNT_ACCESS_DENIED"
        stream_error(Code.PERMISSION_DENIED, reader, parent=parent)
    # A calendar of another account, even through accounts/-.
    for parent in ("accounts/-", mine.name):
        expect_error(
            Code.PERMISSION_DENIED,
            lambda p=parent: reader.page(parent=p, calendar=theirs.primary),
        )
        stream_error(Code.PERMISSION_DENIED, reader, parent=parent, calendar=theirs.primary)

    no_scope = cluster.activity(mine.token("calendars:admin", "contacts:admin"))
    for parent in (mine.name, "accounts/-", "accounts/me"):
        expect_error(Code.PERMISSION_DENIED, lambda p=parent: no_scope.page(parent=p))
        stream_error(Code.PERMISSION_DENIED, no_scope, parent=parent)
    assert reader.page(parent=mine.name).activities
    anonymous = cluster.activity(None)
    expect_error(Code.UNAUTHENTICATED, lambda: anonymous.page(parent=mine.name))
    stream_error(Code.UNAUTHENTICATED, anonymous, parent=mine.name)


def test_accounts_dash_and_me_see_only_the_token_accounts(
    cluster: Cluster, admin: ActivityClient
) -> None:
    a, b, c = cluster.new_account(), cluster.new_account(), cluster.new_account()
    start = admin.latest()
    for account in (a, b, c, a):
        new_event(cluster.almanac, account.primary)
    only_a = cluster.activity(a.token("activity:read"))
    of_a, _ = admin.log(parent=a.name, cursor=start)
    assert len(of_a) == 2

    for parent in ("accounts/-", "accounts/me", a.name):
        assert only_a.log(parent=parent, cursor=start)[0] == of_a, parent
        sub = only_a.subscribe(parent, parent=parent, cursor=start, heartbeat=1)
        try:
            sub.wait_cursor(admin.latest())
        finally:
            sub.stop()
        assert_same_sequence(f"stream of {parent}", sub.activities, of_a)
    # OLDEST through accounts/- replays everything of A and nothing else.
    everything_of_a, _ = admin.log(parent=a.name)
    assert only_a.log(parent="accounts/-")[0] == everything_of_a
    # accounts/me in a calendar filter.
    primary_of_a, _ = only_a.log(parent="accounts/me", calendar="accounts/me/calendars/primary")
    assert primary_of_a == [x for x in everything_of_a if x.calendar == a.primary]

    two = cluster.activity(cluster.almanac.token(["activity:read"], [a.name, b.name]))
    seen, _ = two.log(parent="accounts/-", cursor=start)
    assert {x.account for x in seen} == {a.name, b.name}
    assert seen == [
        x for x in admin.log(parent="accounts/-", cursor=start)[0] if x.account != c.name
    ]
    for client in (two, admin):
        failure = expect_error(
            Code.INVALID_ARGUMENT, lambda cl=client: cl.page(parent="accounts/me")
        )
        assert failure.fields == {"parent"}
        assert stream_error(Code.INVALID_ARGUMENT, client, parent="accounts/me").fields == {
            "parent"
        }


@pytest.mark.parametrize("parent", ["", "accounts", "accounts/", "accounts/A", "users/x"])
def test_bad_parent_is_invalid(admin: ActivityClient, parent: str) -> None:
    failure = expect_error(Code.INVALID_ARGUMENT, lambda: admin.page(parent=parent))
    assert failure.fields == {"parent"}
    assert stream_error(Code.INVALID_ARGUMENT, admin, parent=parent).fields == {"parent"}


# --- heartbeats ------------------------------------------------------------------------------


def test_idle_stream_heartbeats_at_the_requested_interval(
    cluster: Cluster, admin: ActivityClient
) -> None:
    account = cluster.new_account()
    other = new_calendar(account)
    latest = admin.latest()
    sub = admin.subscribe(
        "idle", parent=account.name, calendar=account.primary, heartbeat=1, cursor=latest
    )
    try:
        sub.wait_for(lambda: len(sub.heartbeats) >= 2, 5, "two heartbeats")
        # Filtered-out activity: no message for it, but the next heartbeat passes it.
        skipped = [new_event(cluster.almanac, other.name) for _ in range(3)]
        after = admin.latest()
        assert after != latest
        sub.wait_cursor(after, timeout=5)
        sub.wait_for(lambda: len(sub.heartbeats) >= 4, 6, "four heartbeats")
    finally:
        sub.stop()
    assert sub.activities == [], "filtered-out activities were delivered"
    beats = sub.heartbeats
    assert beats[0].at - sub.opened_at <= 1.7
    gaps = [b.at - a.at for a, b in itertools.pairwise(beats)]
    assert all(0.7 <= gap <= 1.7 for gap in gaps), gaps
    cursors = [b.item.heartbeat.cursor for b in beats]
    assert cursors[:2] == [latest, latest]
    assert cursors[-1] == after
    assert all(c in (latest, after) for c in cursors), cursors
    assert all(b.item.heartbeat.HasField("time") for b in beats)
    # Resuming from the heartbeat's cursor skips the filtered-out activity only.
    resumed, _ = admin.log(parent=account.name, cursor=after)
    assert resumed == []
    assert {a.resource for a in admin.log(parent=account.name, cursor=latest)[0]} == {
        e.name for e in skipped
    }


def test_heartbeats_continue_while_only_filtered_out_activity_flows(
    cluster: Cluster, admin: ActivityClient
) -> None:
    """From the subscriber's side the stream is idle: heartbeats must keep coming."""
    account = cluster.new_account()
    other = new_calendar(account)
    sub = admin.subscribe("filtered", parent=account.name, calendar=account.primary, heartbeat=1)
    try:
        sub.wait_for(lambda: len(sub.heartbeats) >= 1, 5, "a first heartbeat")
        first = sub.heartbeats[-1].at
        until = time.monotonic() + 3.6
        while time.monotonic() < until:
            new_event(cluster.almanac, other.name)  # never matches the filter
            time.sleep(0.15)
        during = [b for b in sub.heartbeats if b.at > first]
    finally:
        sub.stop()
    assert sub.activities == []
    gaps = [b.at - a for a, b in zip([first, *[x.at for x in during]], during, strict=False)]
    assert len(during) >= 2, (
        f"heartbeat_interval 1s, but only {len(during)} heartbeat(s) in 3.6 s of "
        f"filtered-out activity (gaps {gaps})"
    )
    assert max(gaps) <= 1.7, gaps


@pytest.mark.parametrize("interval", [-1.0, 0.0, 0.5, 0.999, 300.001, 301.0, 3600.0])
def test_heartbeat_interval_out_of_range_is_invalid(admin: ActivityClient, interval: float) -> None:
    failure = stream_error(Code.INVALID_ARGUMENT, admin, parent="accounts/-", heartbeat=interval)
    assert failure.fields == {"heartbeat_interval"}


def test_heartbeat_interval_bounds_are_accepted(cluster: Cluster, admin: ActivityClient) -> None:
    account = cluster.new_account()
    for interval in (1.0, 300.0):
        call = admin.open(
            parent=account.name,
            start_position=act_pb.START_POSITION_OLDEST,
            heartbeat=interval,
        )
        try:
            first = next(call)
        finally:
            call.cancel()
        assert first.activity.resource == account.name


# --- start positions -------------------------------------------------------------------------


@pytest.mark.parametrize("position", [act_pb.START_POSITION_NOW, act_pb.START_POSITION_UNSPECIFIED])
def test_start_now_begins_after_the_latest_activity(
    cluster: Cluster, admin: ActivityClient, position: int
) -> None:
    account = cluster.new_account()
    new_event(cluster.almanac, account.primary)
    latest = admin.latest()
    sub = admin.subscribe("now", parent="accounts/-", start_position=position, heartbeat=1)
    try:
        sub.wait_for(lambda: len(sub.heartbeats) >= 1, 5, "a heartbeat")
        created = new_event(cluster.almanac, account.primary)
        sub.wait_count(1)
    finally:
        sub.stop()
    assert sub.heartbeats[0].item.heartbeat.cursor == latest
    after, _ = admin.log(parent="accounts/-", cursor=latest)
    assert [a.resource for a in after] == [created.name]
    assert sub.activities == after


def test_start_oldest_replays_everything_retained(cluster: Cluster, admin: ActivityClient) -> None:
    account = cluster.new_account()
    new_event(cluster.almanac, account.primary)
    everything, latest = admin.log(parent="accounts/-", cursor="")
    sub = admin.subscribe(
        "oldest", parent="accounts/-", start_position=act_pb.START_POSITION_OLDEST, heartbeat=1
    )
    try:
        sub.wait_cursor(latest)
    finally:
        sub.stop()
    assert everything[0].resource == "accounts/default"
    check_stream_order(sub)
    assert_same_sequence("OLDEST", sub.activities, everything)
    # A cursor takes precedence over the start position.
    middle = everything[len(everything) // 2].cursor
    sub = admin.subscribe(
        "cursor wins",
        parent="accounts/-",
        cursor=middle,
        start_position=act_pb.START_POSITION_OLDEST,
        heartbeat=1,
    )
    try:
        sub.wait_cursor(latest)
    finally:
        sub.stop()
    assert_same_sequence(
        "cursor and OLDEST", sub.activities, everything[len(everything) // 2 + 1 :]
    )


# --- a Node.js subscriber -------------------------------------------------------------------------


class NodeSubscriber:
    """``node subscriber.js`` with its JSON lines read on a thread."""

    def __init__(self, address: str, token: str, request: dict[str, Any]) -> None:
        node = shutil.which("node")
        if node is None:
            pytest.fail("`node` is not on PATH: install Node.js >= 18, then run `npm ci`")
        missing = [d for d in NODE_DEPS if not (REPO_ROOT / "node_modules" / d).is_dir()]
        if missing:
            pytest.fail(f"node_modules lacks {', '.join(missing)}: run `npm ci` in {REPO_ROOT}")
        self.proc = subprocess.Popen(
            [node, str(NODE_SUBSCRIBER), address, token, json.dumps(request)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO_ROOT,
        )
        self.lines: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = json.loads(raw)
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()

    def cursor_of(self, line: dict[str, Any]) -> str:
        item = line.get("activity") or line.get("heartbeat") or {}
        return str(item.get("cursor", ""))

    def wait_cursor(self, cursor: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(self.cursor_of(x) == cursor for x in self.lines):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise AssertionError(
                        f"node subscriber: cursor {cursor} not seen; lines {self.lines[-3:]}; "
                        f"stderr {self.stderr()}"
                    )
                self._cond.wait(0.2)

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read().decode(errors="replace")

    def stop(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = self.proc.wait(15)
        self._thread.join(5)
        assert self.proc.stderr is not None
        self.proc.stderr.close()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code

    def wait_end(self, timeout: float = 15.0) -> int:
        code = self.proc.wait(timeout)
        self._thread.join(5)
        return code


def test_node_subscriber_sees_the_same_sequence_as_python(
    cluster: Cluster, admin: ActivityClient
) -> None:
    account = cluster.new_account()
    token = account.token("activity:read")
    start = admin.latest()
    request = {"parent": "accounts/me", "cursor": start, "heartbeat_interval": {"seconds": 1}}
    node = NodeSubscriber(cluster.address("activity"), token, request)
    try:
        python = cluster.activity(token).subscribe(
            "python", parent="accounts/me", cursor=start, heartbeat=1
        )
        try:
            cal = new_calendar(account)
            made = [new_event(cluster.almanac, name) for name in (cal.name, account.primary) * 3]
            update_event(cluster.almanac, made[0].name, "renamed")
            delete_event(cluster.almanac, made[1].name)
            for other in (cluster.new_account(),):  # not visible to this token
                new_event(cluster.almanac, other.primary)
            end = admin.latest()
            python.wait_cursor(end)
            node.wait_cursor(end)
        finally:
            python.stop()
    finally:
        code = node.stop()
    assert code == 0, node.stderr()

    expected, _ = admin.log(parent=account.name, cursor=start)
    assert len(expected) == 9
    assert_same_sequence("python", python.activities, expected)
    node_items = [
        act_pb.StreamActivityResponse.FromString(base64.b64decode(x["raw"])) for x in node.lines
    ]
    node_activities = [i.activity for i in node_items if i.HasField("activity")]
    assert_same_sequence("node", node_activities, expected)
    # What proto-loader decoded is the same activity, field by field.
    decoded = [x["activity"] for x in node.lines if "activity" in x]
    for js, py in zip(decoded, expected, strict=True):
        assert js["cursor"] == py.cursor
        assert js["name"] == py.name
        assert js["account"] == py.account
        assert js["type"] == act_pb.ActivityType.Name(py.type)
        assert js["resource_type"] == common_pb2.ResourceType.Name(py.resource_type)
        assert js["resource"] == py.resource
        assert js["calendar"] == py.calendar
        assert js["actor"] == py.actor
        assert js["snapshot"] == py.WhichOneof("snapshot")
        assert js[js["snapshot"]]["name"] == getattr(py, py.WhichOneof("snapshot")).name
        assert int(js["create_time"]["seconds"]) == py.create_time.seconds
        assert js["changed_fields"] == (
            {"paths": list(py.changed_fields.paths)} if py.HasField("changed_fields") else None
        )
    beats = [x["heartbeat"] for x in node.lines if "heartbeat" in x]
    assert all(b["cursor"] for b in beats)


def test_node_subscriber_gets_the_error_of_a_bad_cursor(cluster: Cluster) -> None:
    node = NodeSubscriber(
        cluster.address("activity"), cluster.secret, {"parent": "accounts/-", "cursor": "nope"}
    )
    code = node.wait_end()
    assert code == 2, node.stderr()
    assert node.lines[-1]["end"]["codeName"] == "INVALID_ARGUMENT"
    assert "cursor" in node.lines[-1]["end"]["details"]
    node.stop()
