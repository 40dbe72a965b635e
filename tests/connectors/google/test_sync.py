"""The Google connector through Almanac's processes, against the fake: sync.

Two-way sync with activity, every mapped field, recurring series both ways,
write-through with ETags, and a 410 full resync. The fake checks every
request and response against Google's discovery document.
"""

from __future__ import annotations

import grpc
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import field_mask_pb2

from tests.helpers import expect_error
from tests.services.events.support import at, utc

from .support import GoogleSuite, google_event

Code = grpc.StatusCode
ADDED, UPDATED, DELETED = (
    act_pb.ACTIVITY_TYPE_ADDED,
    act_pb.ACTIVITY_TYPE_UPDATED,
    act_pb.ACTIVITY_TYPE_DELETED,
)


def test_upstream_changes_arrive_with_changed_fields(suite: GoogleSuite) -> None:
    account, user = suite.account()
    cursor = suite.latest(account)
    made = suite.insert(user, google_event("standup@example.com", "Standup"))
    suite.mirror.sync_now(user)
    suite.patch(user, made["id"], {"summary": "Daily standup"})
    suite.mirror.sync_now(user)
    assert suite.titles(account) == {"standup@example.com": "Daily standup"}
    suite.delete(user, made["id"])
    suite.mirror.sync_now(user)
    assert suite.titles(account) == {}
    log = suite.log(account, cursor)
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
    [event] = [e for e in suite.instances(account)]
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
    got = sorted((e.display_name, _when(e.start)) for e in suite.instances(account))
    assert got == [
        ("Holiday", "2026-11-20"),
        ("Weekly", "2026-10-19T07:00:00Z"),  # 09:00 CEST
        ("Weekly (moved)", "2026-11-02T10:00:00Z"),  # 11:00 CET
    ]
    # The holiday is all-day, the series keeps its zone (09:00 local across DST).
    weekly = next(e for e in suite.instances(account) if e.display_name == "Weekly")
    assert weekly.start.time_zone == "Europe/Berlin"
    # The whole series deleted: tombstones with bare ids remove it from the mirror.
    suite.delete(user, master["id"])
    suite.mirror.sync_now(user)
    assert suite.titles(account) == {"holiday@example.com": "Holiday"}
    assert [e.display_name for e in suite.instances(account)] == ["Holiday"]


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
    cursor = suite.latest(account)
    suite.mirror.sync_now(user)
    suite.mirror.sync_now(user)
    assert suite.log(account, cursor) == [], "a write-through came back from the sync"
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


def test_sync_token_expiry_resyncs_to_exactly_googles_events(suite: GoogleSuite) -> None:
    account, user = suite.account()
    ids = {
        uid: suite.insert(user, google_event(uid, uid.title()))["id"]
        for uid in ("keep", "drop", "change")
    }
    suite.mirror.sync_now(user)
    cursor = suite.latest(account)
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
        for a in suite.log(account, cursor)
    )
    assert changes == [
        ("change", UPDATED, ("display_name",)),
        ("drop", DELETED, ()),
        ("new", ADDED, ()),
    ]
