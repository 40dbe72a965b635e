"""ImportCalendar and ExportCalendar as other calendars expect (issue 15):
warnings instead of rejections, cancelled instances exported, the file's own
header kept, nothing of Almanac's own that moves a reader's series."""

from __future__ import annotations

import datetime as dt

import grpc
import icalendar
import recurring_ical_events
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import event_service_pb2 as ev_pb
from google.api import httpbody_pb2

from tests.helpers import Almanac, TestAccount, expect_error, on_each_store
from tests.services.events.support import EventsOf, at, utc

Code = grpc.StatusCode

WEEKLY = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Example//Test//EN\r
X-WR-CALNAME:Team rota\r
BEGIN:VEVENT\r
UID:rota-1\r
DTSTAMP:20261101T000000Z\r
DTSTART:20261102T090000Z\r
DTEND:20261102T100000Z\r
RRULE:FREQ=WEEKLY;COUNT=4\r
SUMMARY:Rota\r
ATTACH:ftp://files.example.com/rota.pdf\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:rota-1\r
DTSTAMP:20261101T000000Z\r
RECURRENCE-ID:20261109T090000Z\r
DTSTART:20261109T090000Z\r
DTEND:20261109T100000Z\r
SUMMARY:Rota\r
STATUS:CANCELLED\r
END:VEVENT\r
END:VCALENDAR\r
"""


def _import(account: TestAccount, data: bytes, **fields: object) -> cal_pb.ImportCalendarResponse:
    return account.almanac.calendars().ImportCalendar(
        cal_pb.ImportCalendarRequest(
            parent=account.primary,
            ics=httpbody_pb2.HttpBody(content_type="text/calendar", data=data),
            **fields,  # type: ignore[arg-type]
        )
    )


def _export(account: TestAccount, calendar: str = "") -> bytes:
    reply = account.almanac.calendars().ExportCalendar(
        cal_pb.ExportCalendarRequest(name=calendar or account.primary)
    )
    return bytes(reply.data)


def _starts(events: EventsOf, calendar: str = "") -> list[dt.datetime]:
    found = events.window(utc(2026, 11, 1), utc(2026, 12, 31), calendar)
    return sorted(e.start.date_time.ToDatetime(dt.UTC) for e in found)


@on_each_store
def test_warnings_name_lines_and_the_rest_imports(almanac: Almanac, account: TestAccount) -> None:
    checked = _import(account, WEEKLY, validate_only=True)
    assert [w.line for w in checked.warnings] == [12]
    assert "ftp" in checked.warnings[0].message
    assert _starts(EventsOf(account)) == []
    done = _import(account, WEEKLY)
    assert [w.line for w in done.warnings] == [12]
    assert done.created_count == 1


@on_each_store
def test_cancelled_instance_is_exported_and_read_back_the_same(
    almanac: Almanac, account: TestAccount
) -> None:
    _import(account, WEEKLY)
    expected = [utc(2026, 11, 2, 9), utc(2026, 11, 16, 9), utc(2026, 11, 23, 9)]
    assert _starts(EventsOf(account)) == expected
    exported = _export(account)
    # An independent reader sees the same three instances, not the cancelled one.
    reader = recurring_ical_events.of(icalendar.Calendar.from_ical(exported))
    seen = sorted(e["DTSTART"].dt for e in reader.between(utc(2026, 11, 1), utc(2026, 12, 31)))
    assert seen == expected
    other = account.create_calendar("Copy", time_zone="Asia/Tokyo")
    account.almanac.calendars().ImportCalendar(
        cal_pb.ImportCalendarRequest(parent=other.name, ics=httpbody_pb2.HttpBody(data=exported))
    )
    assert _starts(EventsOf(account), other.name) == expected


@on_each_store
def test_export_keeps_the_files_header_and_adds_no_zone(
    almanac: Almanac, account: TestAccount
) -> None:
    _import(account, WEEKLY)
    parsed = icalendar.Calendar.from_ical(_export(account))
    assert str(parsed["X-WR-CALNAME"]) == "Team rota"
    assert "X-WR-TIMEZONE" not in parsed


@on_each_store
def test_organizer_and_creator_default_to_the_owner(almanac: Almanac) -> None:
    owned = TestAccount(
        almanac,
        almanac.create_local_account(owner_email="ada@example.com", display_name="Ada"),
    )
    events = EventsOf(owned)
    made = events.create(display_name="Sync", start=at(utc(2026, 11, 3, 9)))
    assert made.organizer.email == "ada@example.com"
    assert made.creator.email == "ada@example.com"
    assert made.creator.id.startswith("apiTokens/")
    given = events.create(
        display_name="Theirs", start=at(utc(2026, 11, 3, 11)),
        organizer=ev_pb.Person(email="bob@example.com"),
    )  # fmt: skip
    assert given.organizer.email == "bob@example.com"
    bare = TestAccount(almanac, almanac.create_local_account())
    plain = EventsOf(bare).create(display_name="x", start=at(utc(2026, 11, 3, 9)))
    assert not plain.HasField("organizer") and plain.creator.id.startswith("apiTokens/")


@on_each_store
def test_attending_only_lists_what_the_owner_attends(almanac: Almanac) -> None:
    owned = TestAccount(almanac, almanac.create_local_account(owner_email="ada@example.com"))
    events = EventsOf(owned)
    Attendee = ev_pb.Attendee
    accepted = ev_pb.RESPONSE_STATUS_ACCEPTED
    declined = ev_pb.RESPONSE_STATUS_DECLINED
    events.create(
        display_name="attends",
        start=at(utc(2026, 11, 4, 9)),
        attendees=[Attendee(email="ADA@example.com", response_status=accepted)],
    )
    events.create(
        display_name="declined",
        start=at(utc(2026, 11, 4, 10)),
        attendees=[Attendee(email="ada@example.com", response_status=declined)],
    )
    events.create(display_name="organizes", start=at(utc(2026, 11, 4, 11)),
                  attendees=[Attendee(email="bob@example.com")])  # fmt: skip
    listed = events.window(utc(2026, 11, 1), utc(2026, 12, 1), attending_only=True)
    assert [e.display_name for e in listed] == ["attends"]
    bare = TestAccount(almanac, almanac.create_local_account())
    failure = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: EventsOf(bare).listing(attending_only=True),
    )
    assert failure.fields == {"attending_only"}


def test_owner_email_is_checked(almanac: Almanac) -> None:
    failure = expect_error(
        Code.INVALID_ARGUMENT, lambda: almanac.create_local_account(owner_email="not-an-address")
    )
    assert failure.fields == {"account.owner_email"}


CUSTOM_ZONE = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Example//Test//EN\r
BEGIN:VTIMEZONE\r
TZID:Customized Time Zone 1\r
BEGIN:STANDARD\r
DTSTART:16010101T000000\r
TZOFFSETFROM:-0230\r
TZOFFSETTO:-0230\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:custom-1\r
DTSTAMP:20261101T000000Z\r
DTSTART;TZID=Customized Time Zone 1:20261102T090000\r
DTEND;TZID=Customized Time Zone 1:20261102T100000\r
SUMMARY:Odd zone\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_a_files_own_zone_is_kept_until_the_start_moves_zone(
    almanac: Almanac, account: TestAccount
) -> None:
    _import(account, CUSTOM_ZONE)
    events = EventsOf(account)
    (event,) = events.window(utc(2026, 11, 1), utc(2026, 12, 1))
    assert event.start.date_time.ToDatetime(dt.UTC) == utc(2026, 11, 2, 11, 30)
    assert "ical.vtimezone" in {p.key for p in event.custom_properties}
    assert b"TZID:Customized Time Zone 1" in _export(account)
    moved = ev_pb.Event(name=event.name, start=at(utc(2026, 11, 2, 12), "Europe/Paris"))
    updated = events.update(moved, "start")
    assert "ical.vtimezone" not in {p.key for p in updated.custom_properties}
