"""The mirror engine against the reference backend, through the real processes.

Upstream changes reach subscribers with changed fields; writes go upstream
first and come back from the next sync as no change at all; an upstream
failure leaves the mirror and the log untouched; an expired token ends in a
full resync with exactly the upstream's events.
"""

from __future__ import annotations

import time

import grpc
import pytest
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2

from tests.connectors.support import INTERVAL, MirrorSuite, eventually, upstream_event
from tests.helpers import expect_error
from tests.services.events.support import at, utc

Code = grpc.StatusCode
ADDED, UPDATED, DELETED = (
    act_pb.ACTIVITY_TYPE_ADDED,
    act_pb.ACTIVITY_TYPE_UPDATED,
    act_pb.ACTIVITY_TYPE_DELETED,
)


@pytest.fixture
def suite(mirror_suite: MirrorSuite) -> MirrorSuite:
    """The session's suite with the reference backend (tests/connectors/targets.py)."""
    return mirror_suite


def _events(suite: MirrorSuite, account: acc_pb.Account) -> list[ev_pb.Event]:
    return suite.events(account.name.split("/")[1])


def _titles(suite: MirrorSuite, account: acc_pb.Account) -> dict[str, str]:
    return {e.ical_uid: e.display_name for e in _events(suite, account)}


def _log(suite: MirrorSuite, account: acc_pb.Account, cursor: str = "") -> list[act_pb.Activity]:
    client = suite.cluster.activity()
    fields = {"parent": account.name, "resource_types": [common_pb2.RESOURCE_TYPE_EVENT]}
    if cursor:
        fields["cursor"] = cursor
    else:
        fields["start_position"] = act_pb.START_POSITION_OLDEST
    return client.log(**fields)[0]


def _latest(suite: MirrorSuite, account: acc_pb.Account) -> str:
    return suite.cluster.activity().log(parent=account.name, page_size=1)[1]


def test_remote_account_reports_capabilities_and_sync_state(suite: MirrorSuite) -> None:
    account = suite.remote_account()
    shown = suite.almanac.accounts().GetAccount(acc_pb.GetAccountRequest(name=account.name))
    assert acc_pb.CAPABILITY_CHANGE_SYNC in shown.capabilities
    assert acc_pb.CAPABILITY_EVENT_WRITE in shown.capabilities
    assert acc_pb.CAPABILITY_CONTACTS not in shown.capabilities
    assert shown.sync_state.HasField("last_success_time")
    assert shown.sync_state.consecutive_failures == 0
    assert not shown.settings.caldav.password and shown.settings.caldav.has_password
    local = suite.almanac.create_local_account()
    local_shown = suite.almanac.accounts().GetAccount(acc_pb.GetAccountRequest(name=local.name))
    assert acc_pb.CAPABILITY_CHANGE_SYNC not in local_shown.capabilities
    assert not local_shown.HasField("sync_state")
    failure = expect_error(
        Code.FAILED_PRECONDITION,
        lambda: suite.almanac.accounts().SyncAccount(acc_pb.SyncAccountRequest(name=local.name)),
    )
    assert failure.reason == "NOTHING_TO_SYNC"


def test_wrong_password_is_refused_at_create(suite: MirrorSuite) -> None:
    suite.upstream.add_user("victim")
    settings = acc_pb.CalDavSettings(
        url=suite.upstream.url("victim"), username="victim", password="wrong"
    )
    failure = expect_error(
        Code.UNAUTHENTICATED,
        lambda: suite.almanac.accounts().CreateAccount(
            acc_pb.CreateAccountRequest(
                account=acc_pb.Account(
                    connector=acc_pb.CONNECTOR_TYPE_CALDAV,
                    settings=acc_pb.ConnectorSettings(caldav=settings),
                )
            )
        ),
    )
    assert failure.reason == "UPSTREAM_CREDENTIALS_REJECTED"


def test_upstream_changes_reach_the_stream_within_a_poll_interval(suite: MirrorSuite) -> None:
    account = suite.remote_account()
    user = account.name.split("/")[1]
    sub = suite.cluster.activity().subscribe(
        "mirror", parent=account.name, start_position=act_pb.START_POSITION_NOW,
        resource_types=[common_pb2.RESOURCE_TYPE_EVENT], heartbeat=1,
    )  # fmt: skip
    try:
        sub.wait_for(lambda: bool(sub.items), 10, "the first heartbeat")
        steps = [
            (
                lambda: suite.upstream.put(
                    user, "cal0", "standup", [upstream_event("standup", "Standup")]
                ),
                ADDED,
            ),
            (
                lambda: suite.upstream.put(
                    user, "cal0", "standup", [upstream_event("standup", "Daily standup")]
                ),
                UPDATED,
            ),
            (lambda: suite.upstream.delete(user, "cal0", "standup"), DELETED),
        ]
        for count, (change, kind) in enumerate(steps, start=1):
            started = time.monotonic()
            change()
            sub.wait_for(lambda n=count: len(sub.activities) >= n, 10, f"activity {count}")
            latency = time.monotonic() - started
            # One interval until the account is due, plus the pull itself.
            assert latency < INTERVAL + 2.0, latency
            got = sub.activities[count - 1]
            assert got.type == kind
            assert got.actor == "upstream"
            assert got.event_snapshot.ical_uid == "standup"
        assert list(sub.activities[1].changed_fields.paths) == ["display_name"]
        assert len(sub.activities) == 3
    finally:
        sub.call.cancel()


def test_writes_go_upstream_first_and_do_not_echo(suite: MirrorSuite) -> None:
    account = suite.remote_account()
    user = account.name.split("/")[1]
    events = suite.almanac.events()
    created = events.CreateEvent(
        ev_pb.CreateEventRequest(
            parent=f"{account.name}/calendars/primary",
            event=ev_pb.Event(
                display_name="Planning", start=at(utc(2026, 11, 3, 10)),
                end=at(utc(2026, 11, 3, 11)),
                recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=5"]),
            ),
        )
    )  # fmt: skip
    item = suite.upstream.items(user, "cal0")[created.ical_uid]
    assert [e["displayName"] for e in item["events"]] == ["Planning"]
    # One instance moved: the series goes upstream as one item, master + exception.
    instance = f"{created.name}_20261105T100000Z"
    events.UpdateEvent(
        ev_pb.UpdateEventRequest(
            event=ev_pb.Event(name=instance, display_name="Planning (moved)"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
            scope=ev_pb.RECURRENCE_SCOPE_THIS_INSTANCE,
        )
    )
    item = suite.upstream.items(user, "cal0")[created.ical_uid]
    assert [e["displayName"] for e in item["events"]] == ["Planning", "Planning (moved)"]
    cursor = _latest(suite, account)
    suite.sync_now(user)
    suite.sync_now(user)
    assert _log(suite, account, cursor) == [], "a write-through came back from the sync"
    events.DeleteEvent(ev_pb.DeleteEventRequest(name=created.name))
    assert created.ical_uid not in suite.upstream.items(user, "cal0")
    assert created.ical_uid not in _titles(suite, account)


def test_upstream_failure_leaves_mirror_and_log_untouched(suite: MirrorSuite) -> None:
    account = suite.remote_account()
    user = account.name.split("/")[1]
    events = suite.almanac.events()
    before, cursor = _titles(suite, account), _latest(suite, account)
    suite.upstream.fail({"put_item"}, status=503, retry_after=3, user=user)
    request = ev_pb.CreateEventRequest(
        parent=f"{account.name}/calendars/primary",
        event=ev_pb.Event(display_name="Lost?", start=at(utc(2026, 11, 4, 9))),
    )
    failure = expect_error(Code.UNAVAILABLE, lambda: events.CreateEvent(request))
    retry = [d for d in failure.status.details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
    info = error_details_pb2.RetryInfo()
    assert retry and retry[0].Unpack(info) and info.retry_delay.seconds == 3
    assert _titles(suite, account) == before
    assert _latest(suite, account) == cursor
    assert suite.upstream.items(user, "cal0") == {}
    # The retry goes through, and a precondition the upstream refuses is ABORTED.
    created = events.CreateEvent(request)
    suite.upstream.fail({"put_item"}, status=412, user=user)
    update = ev_pb.UpdateEventRequest(
        event=ev_pb.Event(name=created.name, display_name="Changed"),
        update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
    )
    expect_error(Code.ABORTED, lambda: events.UpdateEvent(update))
    assert _titles(suite, account) == {created.ical_uid: "Lost?"}


def test_expired_token_resyncs_to_exactly_the_upstream(suite: MirrorSuite) -> None:
    account = suite.remote_account()
    user = account.name.split("/")[1]
    for uid in ("keep", "drop", "change"):
        suite.upstream.put(user, "cal0", uid, [upstream_event(uid, uid.title())])
    suite.sync_now(user)
    assert _titles(suite, account) == {"keep": "Keep", "drop": "Drop", "change": "Change"}
    cursor = _latest(suite, account)
    suite.upstream.delete(user, "cal0", "drop")
    suite.upstream.put(user, "cal0", "change", [upstream_event("change", "Changed")])
    suite.upstream.put(user, "cal0", "new", [upstream_event("new", "New")])
    suite.upstream.expire_tokens(user)
    suite.sync_now(user)
    suite.sync_now(user)
    assert _titles(suite, account) == {"keep": "Keep", "change": "Changed", "new": "New"}
    assert len(_events(suite, account)) == 3
    changes = sorted(
        (a.event_snapshot.ical_uid, a.type, tuple(a.changed_fields.paths))
        for a in _log(suite, account, cursor)
    )
    assert changes == [
        ("change", UPDATED, ("display_name",)),
        ("drop", DELETED, ()),
        ("new", ADDED, ()),
    ]
    expired = [r for r in suite.upstream.requests if r[0] == user and r[3] == 410]
    assert expired, "the worker never met the expired token"


def test_capability_missing_is_unimplemented(suite: MirrorSuite) -> None:
    account = suite.remote_account(kind=acc_pb.CONNECTOR_TYPE_GOOGLE)
    assert acc_pb.CAPABILITY_EVENT_WRITE not in account.capabilities
    failure = expect_error(
        Code.UNIMPLEMENTED,
        lambda: suite.almanac.events().CreateEvent(
            ev_pb.CreateEventRequest(
                parent=f"{account.name}/calendars/primary",
                event=ev_pb.Event(display_name="x", start=at(utc(2026, 11, 4, 9))),
            )
        ),
    )
    assert failure.reason == "CAPABILITY_NOT_SUPPORTED"
    assert failure.error_info.metadata["capability"] == "CAPABILITY_EVENT_WRITE"
    assert _events(suite, account) == []


def test_a_pull_older_than_a_write_never_undoes_it(suite: MirrorSuite) -> None:
    """A pull whose answer was made before a delete went upstream (it still
    holds the event, written by Almanac itself a moment earlier) must not bring
    the deleted event back: it is redone instead."""
    account = suite.remote_account()
    user = account.name.split("/")[1]
    suite.upstream.slow_ops["changes"] = 1.0
    try:
        made = suite.almanac.events().CreateEvent(
            ev_pb.CreateEventRequest(
                parent=f"{account.name}/calendars/primary",
                event=ev_pb.Event(display_name="Doomed", start=at(utc(2026, 11, 5, 9))),
            )
        )
        suite.almanac.accounts().SyncAccount(acc_pb.SyncAccountRequest(name=account.name))
        time.sleep(0.4)  # a pull's answer, with the event in it, is on its way
        suite.almanac.events().DeleteEvent(ev_pb.DeleteEventRequest(name=made.name))
        assert made.ical_uid not in suite.upstream.items(user, "cal0")
        deadline = time.monotonic() + 2.0  # the stale answers arrive meanwhile
        while time.monotonic() < deadline:
            assert _titles(suite, account) == {}, "a stale pull brought it back"
            time.sleep(0.03)
    finally:
        suite.upstream.slow_ops.clear()
    suite.sync_now(user)
    assert _titles(suite, account) == {}


def test_a_backend_crash_is_recorded_and_the_sync_goes_on(suite: MirrorSuite) -> None:
    account = suite.remote_account()
    user = account.name.split("/")[1]
    # A 200 the backend cannot read (no "items"): a bug-shaped failure, not a mapped one.
    suite.upstream.fail({"changes"}, status=200, retry_after=None, user=user)
    suite.almanac.accounts().SyncAccount(acc_pb.SyncAccountRequest(name=account.name))

    def crashed() -> None:
        state = (
            suite.almanac.accounts()
            .GetAccount(acc_pb.GetAccountRequest(name=account.name))
            .sync_state
        )
        assert state.last_error_reason == "CONNECTOR_CRASHED", state

    eventually(crashed, 15, "the crash in the sync state")
    suite.upstream.put(user, "cal0", "after", [upstream_event("after", "After")])
    suite.sync_now(user)  # the lease was released: the next sync runs and succeeds
    assert _titles(suite, account) == {"after": "After"}
