"""EventService single events: create/get/list/update/delete, typed times, access."""

from __future__ import annotations

import datetime as dt
import uuid

import grpc
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import empty_pb2

from tests.helpers import Almanac, TestAccount, expect_error, on_each_store, race
from tests.services.events.support import (
    EventsOf,
    at,
    date_of,
    day,
    instant,
    local,
    mask,
    names,
    ts,
    utc,
    wall,
)

Code = grpc.StatusCode


@on_each_store
def test_timed_event_crud(almanac: Almanac, account: TestAccount) -> None:
    cal = account.create_calendar("Work", "work", time_zone="Europe/Berlin").name
    events = EventsOf(account)
    start = local("America/New_York", 2026, 3, 3, 14, 30)
    created = events.create(
        cal,
        "planning",
        display_name="Planning",
        location="Room 1",
        start=at(start),
        end=at(start + dt.timedelta(minutes=45)),
    )
    assert created.name == f"{cal}/events/planning"
    assert created.recurrence_type == ev_pb.RECURRENCE_TYPE_SINGLE
    assert not created.all_day
    assert instant(created.start) == utc(2026, 3, 3, 19, 30)
    assert created.start.time_zone == "America/New_York"
    assert created.end.time_zone == "America/New_York"
    assert instant(created.end) == utc(2026, 3, 3, 20, 15)
    assert created.status == ev_pb.EVENT_STATUS_CONFIRMED
    assert created.etag and created.HasField("create_time") and created.HasField("update_time")
    assert created.ical_uid

    assert events.get(created.name) == created
    listed = events.window(utc(2026, 3, 1), utc(2026, 4, 1), cal)
    assert listed == [created]

    changed = created.__class__(name=created.name, display_name="Planning (moved room)")
    updated = events.update(changed, "display_name")
    assert updated.display_name == "Planning (moved room)"
    assert updated.location == "Room 1" and updated.start == created.start
    assert updated.etag != created.etag
    assert updated.update_time.ToDatetime() >= created.update_time.ToDatetime()
    assert events.get(created.name) == updated

    reply = events.stub.DeleteEvent(ev_pb.DeleteEventRequest(name=created.name))
    assert reply == empty_pb2.Empty()
    expect_error(Code.NOT_FOUND, lambda: events.get(created.name))
    assert events.window(utc(2026, 3, 1), utc(2026, 4, 1), cal) == []
    expect_error(Code.NOT_FOUND, lambda: events.delete(created.name))


def test_zone_defaults_to_the_calendars(almanac: Almanac, account: TestAccount) -> None:
    cal = account.create_calendar("Tokyo", time_zone="Asia/Tokyo").name
    events = EventsOf(account)
    start = utc(2026, 5, 1, 0, 0)
    created = events.create(cal, start=at(start, zone=""))
    assert created.start.time_zone == "Asia/Tokyo"
    assert created.end.time_zone == "Asia/Tokyo"
    assert instant(created.start) == start


def test_default_end_is_one_hour_after_start(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    start = local("Europe/Berlin", 2026, 3, 29, 1, 30)  # an hour before the DST gap
    created = events.create(start=at(start))
    assert instant(created.end) - instant(created.start) == dt.timedelta(hours=1)
    assert created.end.time_zone == "Europe/Berlin"


def test_zero_length_event_is_allowed(almanac: Almanac, account: TestAccount) -> None:
    start = utc(2026, 6, 1, 12)
    created = EventsOf(account).create(start=at(start, "UTC"), end=at(start, "UTC"))
    assert created.start == created.end


@on_each_store
def test_all_day_event_end_is_exclusive(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    one = events.create(display_name="Holiday", start=day(2026, 3, 1))
    assert one.all_day
    assert date_of(one.end) == dt.date(2026, 3, 2)
    assert not one.start.time_zone and not one.end.time_zone
    three = events.create(display_name="Trip", start=day(2026, 3, 5), end=day(2026, 3, 8))
    assert date_of(three.end) == dt.date(2026, 3, 8)
    assert events.get(three.name).start == day(2026, 3, 5)


@on_each_store
def test_all_day_date_never_shifts_with_the_calendar_zone(
    almanac: Almanac, account: TestAccount
) -> None:
    """The event of 2026-03-10 is on exactly that date's window, UTC+14 and UTC-11."""
    events = EventsOf(account)
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        cal = account.create_calendar(zone, time_zone=zone).name
        created = events.create(cal, display_name="Day", start=day(2026, 3, 10))
        seen_on = []
        for d in range(7, 14):
            begin = local(zone, 2026, 3, d)
            found = events.window(begin, begin + dt.timedelta(days=1), cal)
            if found:
                assert names(found) == [created.name], (zone, d)
                assert found[0].start == day(2026, 3, 10)
                assert found[0].end == day(2026, 3, 11)
                seen_on.append(d)
        assert seen_on == [10], zone
        # The month listing in the zone has it too, with its date unchanged.
        month = events.listing(cal, month={"year": 2026, "month": 3})
        assert [e.start for e in month] == [day(2026, 3, 10)]


def test_floating_time_round_trips_and_follows_the_calendar_zone(
    almanac: Almanac, account: TestAccount
) -> None:
    events = EventsOf(account)
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        cal = account.create_calendar(zone, time_zone=zone).name
        created = events.create(cal, display_name="Wake up", start=wall(2026, 3, 10, 7))
        assert created.start == wall(2026, 3, 10, 7)
        assert created.end == wall(2026, 3, 10, 8)
        assert not created.all_day and not created.start.time_zone
        seven = local(zone, 2026, 3, 10, 7)
        assert names(events.window(seven, seven + dt.timedelta(minutes=1), cal)) == [created.name]
        before = seven - dt.timedelta(hours=1)
        assert events.window(before, seven, cal) == [], zone


def test_end_before_start_names_event_end(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    start = utc(2026, 4, 1, 10)
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.create(start=at(start, "UTC"), end=at(start - dt.timedelta(minutes=1))),
    )
    assert err.fields == {"event.end"}
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.create(start=day(2026, 4, 2), end=day(2026, 4, 1)),
    )
    assert err.fields == {"event.end"}
    err = expect_error(
        Code.INVALID_ARGUMENT, lambda: events.create(start=day(2026, 4, 2), end=at(start, "UTC"))
    )
    assert err.fields == {"event.end"}
    assert events.window(utc(2026, 3, 1), utc(2026, 5, 1)) == []


def test_missing_start_is_invalid(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    err = expect_error(Code.INVALID_ARGUMENT, lambda: events.create(display_name="No start"))
    assert "event.start" in err.fields
    err = expect_error(
        Code.INVALID_ARGUMENT, lambda: events.create(start=ev_pb.Event().start, display_name="x")
    )
    assert "event.start" in err.fields
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.create(start=at(utc(2026, 1, 1), "Mars/Olympus_Mons")),
    )
    assert any(f.startswith("event.start") for f in err.fields), err.fields


def test_event_id_given_then_duplicate(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    first = events.create(event_id="team.sync@x", start=day(2026, 2, 1))
    assert first.name.endswith("/events/team.sync@x")
    expect_error(
        Code.ALREADY_EXISTS, lambda: events.create(event_id="team.sync@x", start=day(2026, 2, 2))
    )
    err = expect_error(
        Code.INVALID_ARGUMENT, lambda: events.create(event_id="bad id!", start=day(2026, 2, 2))
    )
    assert err.fields == {"event_id"}


def test_etag_mismatch_is_aborted(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    created = events.create(display_name="A", start=day(2026, 2, 1))
    updated = events.update(
        ev_pb.Event(name=created.name, display_name="B", etag=created.etag), "display_name"
    )
    stale = ev_pb.Event(name=created.name, display_name="C", etag=created.etag)
    expect_error(Code.ABORTED, lambda: events.update(stale, "display_name"))
    expect_error(Code.ABORTED, lambda: events.delete(created.name, etag=created.etag))
    assert events.get(created.name) == updated
    events.delete(created.name, etag=updated.etag)
    expect_error(Code.NOT_FOUND, lambda: events.get(created.name))


@on_each_store
def test_request_id_retry_returns_the_first_event(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    request = ev_pb.CreateEventRequest(
        parent=account.primary,
        request_id=str(uuid.uuid4()),
        event=ev_pb.Event(display_name="Once", start=day(2026, 7, 1)),
    )
    first = events.stub.CreateEvent(request)
    again = events.stub.CreateEvent(request)
    assert again == first
    assert names(events.window(utc(2026, 6, 1), utc(2026, 8, 1))) == [first.name]
    replies = race(4, lambda: events.stub.CreateEvent(request))
    assert replies == [first.name] * 4
    # The same id with another request is not a retry (as for calendars).
    other = ev_pb.CreateEventRequest()
    other.CopyFrom(request)
    other.event.display_name = "Twice"
    err = expect_error(Code.INVALID_ARGUMENT, lambda: events.stub.CreateEvent(other))
    assert err.fields == {"request_id"}
    assert names(events.window(utc(2026, 6, 1), utc(2026, 8, 1))) == [first.name]
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.stub.CreateEvent(
            ev_pb.CreateEventRequest(parent=account.primary, request_id="nope", event=request.event)
        ),
    )
    assert err.fields == {"request_id"}


def test_calendar_that_does_not_exist(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    missing = account.calendar_name("nope")
    expect_error(Code.NOT_FOUND, lambda: events.create(missing, start=day(2026, 1, 1)))
    expect_error(
        Code.NOT_FOUND,
        lambda: events.stub.ListEvents(ev_pb.ListEventsRequest(parent=missing)),
    )
    expect_error(Code.NOT_FOUND, lambda: events.get(f"{missing}/events/x"))
    expect_error(Code.NOT_FOUND, lambda: events.get(f"{account.primary}/events/x"))


def test_foreign_account_is_permission_denied(almanac: Almanac, account: TestAccount) -> None:
    other = TestAccount(almanac, almanac.create_local_account(display_name="Other"))
    theirs = EventsOf(other).create(display_name="Private", start=day(2026, 1, 5))
    mine = EventsOf(account)  # a token for `account` only
    calls = [
        lambda: mine.create(other.primary, start=day(2026, 1, 6)),
        lambda: mine.get(theirs.name),
        lambda: mine.stub.ListEvents(ev_pb.ListEventsRequest(parent=other.primary)),
        lambda: mine.update(ev_pb.Event(name=theirs.name, display_name="x"), "display_name"),
        lambda: mine.delete(theirs.name),
        lambda: mine.instances(theirs.name),
    ]
    for call in calls:
        expect_error(Code.PERMISSION_DENIED, call)
    missing = other.calendar_name("does-not-exist")
    expect_error(Code.PERMISSION_DENIED, lambda: mine.create(missing, start=day(2026, 1, 6)))
    assert EventsOf(other).get(theirs.name) == theirs


def test_read_token_cannot_write(almanac: Almanac, account: TestAccount) -> None:
    admin = EventsOf(account)
    created = admin.create(display_name="Seen", start=day(2026, 1, 5))
    reader = EventsOf(account, account.events("calendars:read"))
    assert reader.get(created.name) == created
    assert names(reader.window(utc(2026, 1, 1), utc(2026, 2, 1))) == [created.name]
    for call in (
        lambda: reader.create(start=day(2026, 1, 6)),
        lambda: reader.update(ev_pb.Event(name=created.name, display_name="x"), "display_name"),
        lambda: reader.delete(created.name),
    ):
        expect_error(Code.PERMISSION_DENIED, call)
    assert admin.get(created.name) == created
    expect_error(
        Code.UNAUTHENTICATED,
        lambda: almanac.events(None).GetEvent(ev_pb.GetEventRequest(name=created.name)),
    )


def test_timestamps_and_creator(almanac: Almanac, account: TestAccount) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    created = EventsOf(account).create(start=at(utc(2026, 1, 1, 9), "UTC"))
    assert created.create_time.ToDatetime(dt.UTC) >= before
    assert created.create_time == created.update_time
    assert not created.HasField("delete_time")
    assert created.start.date_time == ts(utc(2026, 1, 1, 9))


def test_all_day_event_follows_a_change_of_the_calendar_zone(
    almanac: Almanac, account: TestAccount
) -> None:
    """All-day dates are placed in the calendar's current zone when read."""
    calendar = account.create_calendar("Moving", time_zone="Pacific/Kiritimati")
    events = EventsOf(account)
    created = events.create(calendar.name, start=day(2026, 3, 10))
    kiritimati_day = local("Pacific/Kiritimati", 2026, 3, 10)
    pago_day = local("Pacific/Pago_Pago", 2026, 3, 10)
    one = dt.timedelta(days=1)
    assert names(events.window(kiritimati_day, kiritimati_day + one, calendar.name)) == [
        created.name
    ]
    assert events.window(pago_day, pago_day + one, calendar.name) == []
    account.calendars().UpdateCalendar(
        cal_pb.UpdateCalendarRequest(
            calendar=cal_pb.Calendar(name=calendar.name, time_zone="Pacific/Pago_Pago"),
            update_mask=mask("time_zone"),
        )
    )
    assert events.window(kiritimati_day, kiritimati_day + one, calendar.name) == []
    (found,) = events.window(pago_day, pago_day + one, calendar.name)
    assert found.start == day(2026, 3, 10) and found.name == created.name
