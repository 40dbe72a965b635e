"""The Google connector through Almanac's processes, against the fake.

Two-way sync with activity, recurring series both ways, token expiry and
revocation, a 410 full resync, rate-limit storms and 5xx. The fake checks
every request and response against Google's discovery document.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
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


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GoogleSuite]:
    root: Path = tmp_path_factory.mktemp("google-sync")
    s = GoogleSuite(root)
    yield s
    s.close()


@pytest.fixture(autouse=True)
def schema_clean(suite: GoogleSuite) -> Iterator[None]:
    yield
    assert suite.fake.violations == [], "the connector or the fake left Google's schema"


def _log(suite: GoogleSuite, account: acc_pb.Account, cursor: str) -> list[act_pb.Activity]:
    client = suite.mirror.cluster.activity()
    return client.log(
        parent=account.name, cursor=cursor, resource_types=[common_pb2.RESOURCE_TYPE_EVENT]
    )[0]


def _latest(suite: GoogleSuite, account: acc_pb.Account) -> str:
    return suite.mirror.cluster.activity().log(parent=account.name, page_size=1)[1]


def _instances(suite: GoogleSuite, account: acc_pb.Account) -> list[ev_pb.Event]:
    reply = suite.almanac.events().ListEvents(
        ev_pb.ListEventsRequest(
            parent=f"{account.name}/calendars/primary",
            start_time=at(utc(2026, 10, 1)).date_time,
            end_time=at(utc(2026, 12, 31)).date_time,
            page_size=1000,
        )
    )
    return list(reply.events)


def test_upstream_changes_arrive_with_changed_fields(suite: GoogleSuite) -> None:
    account, user = suite.account()
    cursor = _latest(suite, account)
    made = suite.insert(user, google_event("standup@example.com", "Standup"))
    suite.mirror.sync_now(user)
    suite.patch(user, made["id"], {"summary": "Daily standup"})
    suite.mirror.sync_now(user)
    assert suite.titles(account) == {"standup@example.com": "Daily standup"}
    suite.delete(user, made["id"])
    suite.mirror.sync_now(user)
    assert suite.titles(account) == {}
    log = _log(suite, account, cursor)
    assert [(a.type, a.actor) for a in log] == [
        (ADDED, "upstream"),
        (UPDATED, "upstream"),
        (DELETED, "upstream"),
    ]
    assert list(log[1].changed_fields.paths) == ["display_name"]


def test_every_mapped_field_arrives_and_survives_a_write(suite: GoogleSuite) -> None:
    account, user = suite.account()
    conference = {
        "conferenceId": "abc-defg-hij",
        "entryPoints": [{"entryPointType": "video", "uri": "https://meet.google.com/abc-defg-hij"}],
    }
    suite.insert(
        user,
        google_event(
            "rich@example.com",
            "Review",
            location="Room 1",
            description="Agenda",
            attendees=[
                {"email": "ann@example.com", "responseStatus": "accepted"},
                {"email": "bob@example.com", "responseStatus": "tentative", "optional": True},
            ],
            reminders={"useDefault": False, "overrides": [{"method": "email", "minutes": 30}]},
            visibility="private",
            transparency="transparent",
            colorId="11",
            extendedProperties={"private": {"crm": "42"}, "shared": {"room": "blue"}},
            conferenceData=conference,
        ),
    )
    suite.mirror.sync_now(user)
    [event] = [e for e in _instances(suite, account)]
    got = suite.almanac.events().GetEvent(ev_pb.GetEventRequest(name=event.name, include_raw=True))
    assert (got.display_name, got.location, got.description) == ("Review", "Room 1", "Agenda")
    assert [(a.email, a.response_status, a.required) for a in got.attendees] == [
        ("ann@example.com", ev_pb.RESPONSE_STATUS_ACCEPTED, True),
        ("bob@example.com", ev_pb.RESPONSE_STATUS_TENTATIVE, False),
    ]
    assert not got.use_default_reminders
    assert [(r.minutes, r.method) for r in got.reminders] == [
        (30, common_pb2.REMINDER_METHOD_EMAIL)
    ]
    assert got.visibility == ev_pb.VISIBILITY_PRIVATE and got.transparent
    assert got.color == "#dc2127"
    assert {(p.key, p.value, p.private) for p in got.custom_properties} == {
        ("crm", "42", True),
        ("room", "blue", False),
    }
    assert got.organizer.email == suite.fake.calendar(user).id
    assert got.raw["object"]["conferenceData"]["conferenceId"] == "abc-defg-hij"
    suite.almanac.events().UpdateEvent(
        ev_pb.UpdateEventRequest(
            event=ev_pb.Event(name=event.name, display_name="Review 2"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        )
    )
    [upstream] = [e for e in suite.fake.calendar(user).events.values()]
    assert upstream["summary"] == "Review 2"
    assert upstream["conferenceData"] == conference
    assert upstream["extendedProperties"] == {"private": {"crm": "42"}, "shared": {"room": "blue"}}
    assert [a["responseStatus"] for a in upstream["attendees"]] == ["accepted", "tentative"]
    assert (upstream["colorId"], upstream["visibility"], upstream["transparency"]) == (
        "11",
        "private",
        "transparent",
    )
    assert upstream["reminders"] == {
        "useDefault": False,
        "overrides": [{"method": "email", "minutes": 30}],
    }


def test_recurring_series_from_google(suite: GoogleSuite) -> None:
    account, user = suite.account("Europe/Berlin")
    master = suite.insert(
        user,
        {
            "iCalUID": "weekly@example.com",
            "summary": "Weekly",
            "start": {"dateTime": "2026-10-19T09:00:00+02:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-10-19T10:00:00+02:00", "timeZone": "Europe/Berlin"},
            "recurrence": [
                "RRULE:FREQ=WEEKLY;COUNT=4",
                "EXDATE;TZID=Europe/Berlin:20261026T090000",
            ],
        },
    )
    # An instance moved (the 2nd of November) and one cancelled (the 9th), by id.
    suite.patch(
        user,
        f"{master['id']}_20261102T080000Z",
        {
            "summary": "Weekly (moved)",
            "start": {"dateTime": "2026-11-02T11:00:00+01:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-11-02T12:00:00+01:00", "timeZone": "Europe/Berlin"},
        },
    )
    suite.delete(user, f"{master['id']}_20261109T080000Z")
    suite.insert(
        user,
        {
            "iCalUID": "holiday@example.com",
            "summary": "Holiday",
            "start": {"date": "2026-11-20"},
            "end": {"date": "2026-11-21"},
        },
    )
    suite.mirror.sync_now(user)
    got = sorted((e.display_name, _when(e.start)) for e in _instances(suite, account))
    assert got == [
        ("Holiday", "2026-11-20"),
        ("Weekly", "2026-10-19T07:00:00Z"),  # 09:00 CEST
        ("Weekly (moved)", "2026-11-02T10:00:00Z"),  # 11:00 CET
    ]
    # The holiday is all-day, the series keeps its zone (09:00 local across DST).
    weekly = next(e for e in _instances(suite, account) if e.display_name == "Weekly")
    assert weekly.start.time_zone == "Europe/Berlin"


def _when(value: object) -> str:
    t = value  # an EventTime
    assert hasattr(t, "WhichOneof")
    if t.WhichOneof("value") == "date":  # type: ignore[attr-defined]
        d = t.date  # type: ignore[attr-defined]
        return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
    return str(t.date_time.ToJsonString())  # type: ignore[attr-defined]


def test_writes_go_to_google_first_and_do_not_echo(suite: GoogleSuite) -> None:
    account, user = suite.account()
    events = suite.almanac.events()
    created = events.CreateEvent(
        ev_pb.CreateEventRequest(
            parent=f"{account.name}/calendars/primary",
            event=ev_pb.Event(
                display_name="Planning",
                start=at(utc(2026, 11, 3, 10)),
                end=at(utc(2026, 11, 3, 11)),
                recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=5"]),
            ),
        )
    )
    assert suite.upstream_titles(user) == {created.ical_uid: ["Planning"]}
    events.UpdateEvent(
        ev_pb.UpdateEventRequest(
            event=ev_pb.Event(name=f"{created.name}_20261105T100000Z", display_name="Moved"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
            scope=ev_pb.RECURRENCE_SCOPE_THIS_INSTANCE,
        )
    )
    assert suite.upstream_titles(user) == {created.ical_uid: ["Planning", "Moved"]}
    exception = [e for e in suite.fake.calendar(user).events.values() if e.get("recurringEventId")]
    assert exception[0]["originalStartTime"]["dateTime"] == "2026-11-05T10:00:00Z"
    events.DeleteEvent(ev_pb.DeleteEventRequest(name=f"{created.name}_20261106T100000Z"))
    master = next(e for e in suite.fake.calendar(user).events.values() if e.get("recurrence"))
    assert "EXDATE:20261106T100000Z" in master["recurrence"]
    cursor = _latest(suite, account)
    suite.mirror.sync_now(user)
    suite.mirror.sync_now(user)
    assert _log(suite, account, cursor) == [], "a write-through came back from the sync"
    # A stale etag upstream (another client changed it) is ABORTED, nothing written.
    suite.patch(user, master["id"], {"summary": "Changed elsewhere"})
    failure = expect_error(
        Code.ABORTED,
        lambda: events.UpdateEvent(
            ev_pb.UpdateEventRequest(
                event=ev_pb.Event(name=created.name, display_name="Mine"),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
            )
        ),
    )
    assert failure.reason == "UPSTREAM_ETAG_MISMATCH"
    assert suite.fake.answers["events.update", 412] == 1
    suite.mirror.sync_now(user)
    assert suite.titles(account) == {created.ical_uid: "Changed elsewhere"}
    events.DeleteEvent(ev_pb.DeleteEventRequest(name=created.name))
    assert suite.upstream_titles(user) == {}


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


def test_sync_token_expiry_resyncs_to_exactly_googles_events(suite: GoogleSuite) -> None:
    account, user = suite.account()
    ids = {
        uid: suite.insert(user, google_event(uid, uid.title()))["id"]
        for uid in ("keep", "drop", "change")
    }
    suite.mirror.sync_now(user)
    cursor = _latest(suite, account)
    suite.delete(user, ids["drop"])
    suite.patch(user, ids["change"], {"summary": "Changed"})
    suite.insert(user, google_event("new", "New"))
    suite.fake.calendar(user).expire_tokens()
    suite.fake.page_size = 1  # and the full listing comes a page at a time
    try:
        suite.mirror.sync_now(user)
    finally:
        suite.fake.page_size = 2500
    assert suite.fake.answers["events.list", 410] >= 1
    assert suite.titles(account) == {"keep": "Keep", "change": "Changed", "new": "New"}
    assert suite.titles(account) == {u: t[0] for u, t in suite.upstream_titles(user).items()}
    changes = sorted(
        (a.event_snapshot.ical_uid, a.type, tuple(a.changed_fields.paths))
        for a in _log(suite, account, cursor)
    )
    assert changes == [
        ("change", UPDATED, ("display_name",)),
        ("drop", DELETED, ()),
        ("new", ADDED, ()),
    ]


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
    before, cursor = suite.titles(account), _latest(suite, account)
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
    assert suite.titles(account) == before and _latest(suite, account) == cursor
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
