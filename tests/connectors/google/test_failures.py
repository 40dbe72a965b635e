"""The Google connector through Almanac's processes, against the fake: failures.

Access tokens expiring mid-run, a revoked grant, rate-limit storms and 5xx,
a reader's calendar, replies the connector cannot read: each ends in a clear
status and leaves the mirror untouched.
"""

from __future__ import annotations

import time

import grpc
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2

from tests.connectors.support import eventually
from tests.helpers import expect_error
from tests.services.events.support import at, utc

from .support import GoogleSuite, google_event

Code = grpc.StatusCode
ADDED, UPDATED, DELETED = (
    act_pb.ACTIVITY_TYPE_ADDED,
    act_pb.ACTIVITY_TYPE_UPDATED,
    act_pb.ACTIVITY_TYPE_DELETED,
)


def test_access_token_expiry_mid_run_refreshes_once(suite: GoogleSuite) -> None:
    account, user = suite.account()
    grants = suite.fake.token_grants
    suite.fake.expire_access_tokens()  # as if Google revoked them early: 401 on next use
    suite.insert(user, google_event("after@example.com", "After expiry"))
    suite.mirror.sync_now(user)
    assert suite.titles(account) == {"after@example.com": "After expiry"}
    created = suite.almanac.events().CreateEvent(
        ev_pb.CreateEventRequest(
            parent=f"{account.name}/calendars/primary",
            event=ev_pb.Event(display_name="Written", start=at(utc(2026, 11, 4, 9))),
        )
    )
    assert created.ical_uid in suite.upstream_titles(user)
    # One new token for the sync worker, one for the event service's connector.
    # Each 401 cost one refresh (plus the event service's first token): no storm.
    rejected = sum(n for (_, status), n in suite.fake.answers.items() if status == 401)
    assert rejected >= 1
    assert suite.fake.token_grants - grants <= rejected + 1


def test_rate_limit_storms_back_off_then_give_up(suite: GoogleSuite) -> None:
    account, user = suite.account()
    events = suite.almanac.events()
    request = ev_pb.CreateEventRequest(
        parent=f"{account.name}/calendars/primary",
        event=ev_pb.Event(display_name="Busy day", start=at(utc(2026, 11, 5, 9))),
    )
    # A short storm (429, then 403 userRateLimitExceeded) is ridden out.
    suite.fake.fail(429, "rateLimitExceeded", count=2, methods={"events.insert"})
    suite.fake.fail(403, "userRateLimitExceeded", count=1, methods={"events.insert"})
    created = events.CreateEvent(request)
    assert created.ical_uid in suite.upstream_titles(user)
    assert suite.fake.answers["events.insert", 429] == 2
    # A long one is RESOURCE_EXHAUSTED with a RetryInfo, and nothing is written.
    before, cursor = suite.titles(account), suite.latest(account)
    suite.fake.fail(429, "rateLimitExceeded", count=1000, methods={"events.insert"})
    started = time.monotonic()
    try:
        failure = expect_error(Code.RESOURCE_EXHAUSTED, lambda: events.CreateEvent(request))
    finally:
        suite.fake.clear_faults()
    assert time.monotonic() - started < 5
    assert failure.reason == "UPSTREAM_RATE_LIMITED"
    info = error_details_pb2.RetryInfo()
    assert any(d.Unpack(info) for d in failure.status.details if d.Is(info.DESCRIPTOR))
    assert info.retry_delay.seconds > 0
    assert suite.titles(account) == before and suite.latest(account) == cursor
    # A 5xx is UNAVAILABLE, also without a trace in the mirror.
    suite.fake.fail(503, "backendError", count=1, domain="global", methods={"events.insert"})
    expect_error(Code.UNAVAILABLE, lambda: events.CreateEvent(request))
    assert suite.titles(account) == before


def test_revoked_refresh_token_stops_the_sync_until_new_credentials(suite: GoogleSuite) -> None:
    account, user = suite.account()
    suite.fake.revoke(user)
    asked = time.time()
    suite.almanac.accounts().SyncAccount(acc_pb.SyncAccountRequest(name=account.name))

    def failed() -> acc_pb.SyncState:
        state = (
            suite.almanac.accounts()
            .GetAccount(acc_pb.GetAccountRequest(name=account.name))
            .sync_state
        )
        assert state.last_error_reason == "ACCOUNT_REAUTH_REQUIRED", state
        return state

    state = eventually(failed, 10, "the sync to fail")
    assert state.last_attempt_time.seconds >= int(asked)
    assert state.next_sync_time.seconds > time.time() + 3600, "a revoked grant is retried soon"
    failure = expect_error(
        Code.UNAUTHENTICATED,
        lambda: suite.almanac.events().CreateEvent(
            ev_pb.CreateEventRequest(
                parent=f"{account.name}/calendars/primary",
                event=ev_pb.Event(display_name="x", start=at(utc(2026, 11, 4, 9))),
            )
        ),
    )
    assert failure.reason == "ACCOUNT_REAUTH_REQUIRED"
    # A new consent: new credentials, and the sync resumes at once.
    fresh = suite.fake.add_refresh_token(user)
    suite.insert(user, google_event("back@example.com", "Back"))
    changed = time.time()
    suite.almanac.accounts().UpdateAccount(
        acc_pb.UpdateAccountRequest(
            account=acc_pb.Account(
                name=account.name,
                settings=acc_pb.ConnectorSettings(
                    google=acc_pb.GoogleSettings(
                        client_id="client-" + user,
                        client_secret="secret",
                        refresh_token=fresh,
                        api_base_url=suite.fake.url,
                        token_url=suite.fake.token_url,
                    )
                ),
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["settings"]),
        )
    )
    suite.mirror.wait_synced(user, changed)
    assert suite.titles(account) == {"back@example.com": "Back"}


def test_calendars_from_the_calendar_list_with_their_access_roles(suite: GoogleSuite) -> None:
    account, user = suite.account("America/New_York")
    shared = suite.fake.add_calendar(user, "Team (read only)", role="reader")
    suite.fake.calendar(user, shared).color = "#7bd148"
    with suite.fake.lock:  # written by the calendar's owner, not this user
        suite.fake.events._insert(
            suite.fake.calendar(user, shared), google_event("theirs@example.com", "Theirs")
        )
    suite.mirror.sync_now(user)
    calendars = (
        suite.almanac.calendars()
        .ListCalendars(cal_pb.ListCalendarsRequest(parent=account.name))
        .calendars
    )
    by_name = {c.display_name: c for c in calendars}
    primary = by_name[suite.fake.calendar(user).id]
    assert primary.primary and primary.time_zone == "America/New_York"
    team = by_name["Team (read only)"]
    assert team.color == "#7bd148" and not team.primary
    before = suite.fake.calls["events.insert"]
    failure = expect_error(
        Code.PERMISSION_DENIED,
        lambda: suite.almanac.events().CreateEvent(
            ev_pb.CreateEventRequest(
                parent=team.name,
                event=ev_pb.Event(display_name="Mine", start=at(utc(2026, 11, 4, 9))),
            )
        ),
    )
    assert failure.reason == "UPSTREAM_FORBIDDEN"
    assert suite.fake.calls["events.insert"] == before, "a reader's write reached Google"
    listed = suite.almanac.events().ListEvents(
        ev_pb.ListEventsRequest(
            parent=team.name,
            start_time=at(utc(2026, 11, 1)).date_time,
            end_time=at(utc(2026, 12, 1)).date_time,
        )
    )
    assert [e.display_name for e in listed.events] == ["Theirs"]


def test_replies_the_connector_cannot_read_are_unavailable(suite: GoogleSuite) -> None:
    account, user = suite.account()
    before = suite.titles(account)
    suite.fake.fail(200, "", count=1, methods={"events.insert"}, payload={"kind": "nonsense"})
    failure = expect_error(
        Code.UNAVAILABLE,
        lambda: suite.almanac.events().CreateEvent(
            ev_pb.CreateEventRequest(
                parent=f"{account.name}/calendars/primary",
                event=ev_pb.Event(display_name="x", start=at(utc(2026, 11, 4, 9))),
            )
        ),
    )
    assert failure.reason == "UPSTREAM_MALFORMED_REPLY"
    assert suite.titles(account) == before
    suite.fake.fail(200, "", count=1000, methods={"events.list"}, payload={"items": [{"x": 1}]})
    asked = time.time()
    suite.almanac.accounts().SyncAccount(acc_pb.SyncAccountRequest(name=account.name))

    def failed() -> None:
        state = (
            suite.almanac.accounts()
            .GetAccount(acc_pb.GetAccountRequest(name=account.name))
            .sync_state
        )
        assert state.last_attempt_time.seconds >= int(asked), state
        assert state.last_error_reason == "UPSTREAM_MALFORMED_REPLY", state

    try:
        eventually(failed, 10, "the sync to record the malformed reply")
    finally:
        suite.fake.clear_faults()
    suite.mirror.sync_now(user)
    assert suite.titles(account) == before


def test_a_rate_limited_sync_waits_as_long_as_google_asks(suite: GoogleSuite) -> None:
    account, user = suite.account()
    suite.insert(user, google_event("kept@example.com", "Kept"))
    suite.mirror.sync_now(user)
    cursor = suite.latest(account)
    suite.insert(user, google_event("later@example.com", "Later"))
    suite.fake.fail(429, "rateLimitExceeded", count=1000, methods={"events.list"})
    asked = time.time()
    suite.almanac.accounts().SyncAccount(acc_pb.SyncAccountRequest(name=account.name))

    def limited() -> acc_pb.SyncState:
        state = (
            suite.almanac.accounts()
            .GetAccount(acc_pb.GetAccountRequest(name=account.name))
            .sync_state
        )
        assert state.last_attempt_time.seconds >= int(asked), state
        assert state.last_error_reason == "UPSTREAM_RATE_LIMITED", state
        return state

    try:
        state = eventually(limited, 15, "the sync to give up on the storm")
        # Not every 0.4 s interval: the 30 s Google's storm earns (no Retry-After sent).
        assert state.next_sync_time.seconds >= int(asked) + 25
        assert suite.titles(account) == {"kept@example.com": "Kept"}
        assert suite.log(account, cursor) == []
    finally:
        suite.fake.clear_faults()
    suite.mirror.sync_now(user)
    assert suite.titles(account) == {"kept@example.com": "Kept", "later@example.com": "Later"}
