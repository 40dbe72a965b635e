"""Issue 15, items 1-7, at the connectors.ical level (item 8 is in
tests/recurrence; the corpus suite is tests/fidelity)."""

from __future__ import annotations

from datetime import UTC, datetime

import icalendar
import pytest
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import event_service_pb2 as ev_pb

from connectors.ical import from_ics, to_ics
from connectors.recurrence import expand
from tests.ical.support import at, load, problems, utc_of


def _doc(*lines: str, header: str = "") -> bytes:
    body = "\r\n".join(lines)
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n{header}{body}\r\nEND:VCALENDAR\r\n"
    ).encode()


def _starts(data: bytes) -> list[datetime]:
    parsed = from_ics(data, default_zone="UTC")
    out: list[datetime] = []
    for event in parsed.events:
        found = expand(event.start, event.end, event.recurrence).occurrences
        out += [o.start_utc for o in found]
    return sorted(out)


def test_custom_vtimezone_is_evaluated_kept_and_exported_again() -> None:
    parsed = from_ics(load("custom_vtimezone_fixed_offset.ics"), default_zone="UTC")
    (event,) = parsed.events
    # 10:00 at +01:17, the file's own rule, not any IANA zone's.
    assert utc_of(event.start) == datetime(2026, 1, 5, 8, 43, tzinfo=UTC)
    assert event.start.time_zone == "UTC"  # the stand-in: +01:17 is no whole hour
    assert [p.key for p in event.custom_properties] == ["ical.vtimezone"]
    exported = to_ics(cal_pb.Calendar(), [event])
    calendar = icalendar.Calendar.from_ical(exported)
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Nowhere Standard Time"]
    vevent = calendar.walk("VEVENT")[0]
    assert vevent["DTSTART"].params["TZID"] == "Nowhere Standard Time"
    assert vevent["DTSTART"].dt.replace(tzinfo=None) == datetime(2026, 1, 5, 10)
    assert b"X-ALMANAC-PROPERTY" not in exported
    (again,) = from_ics(exported, default_zone="UTC").events
    assert again.start == event.start


def test_normalized_not_fatal_with_warnings_naming_lines() -> None:
    data = _doc(
        "BEGIN:VEVENT",
        "UID:a",
        "DTSTART:20260105T100000Z",
        "CATEGORIES:",
        "ATTACH:ftp://example.com/agenda.pdf",
        "ATTENDEE;CN=Ann:mailto:ann@example.com",
        "ATTENDEE:mailto:ANN@example.com",
        "END:VEVENT",
    )
    parsed = from_ics(data, default_zone="UTC")
    (event,) = parsed.events
    assert list(event.categories) == [] and list(event.attachments) == []
    assert [(a.email, a.display_name) for a in event.attendees] == [("ann@example.com", "Ann")]
    assert [(w.line, w.message[:30]) for w in parsed.warnings] == [
        (8, "ATTACH 'ftp://example.com/agen"),
        (10, "ATTENDEE ANN@example.com is li"),
    ]


def test_rscale_gregorian_is_read_others_are_left_out() -> None:
    data = _doc(
        "BEGIN:VEVENT",
        "UID:g",
        "DTSTART;VALUE=DATE:20120229",
        "RRULE:RSCALE=GREGORIAN;FREQ=YEARLY;COUNT=2",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:c",
        "DTSTART;VALUE=DATE:20130210",
        "RRULE:RSCALE=CHINESE;FREQ=YEARLY",
        "END:VEVENT",
    )
    parsed = from_ics(data, default_zone="UTC")
    assert [(e.ical_uid, list(e.recurrence.rrules)) for e in parsed.events] == [
        ("g", ["FREQ=YEARLY;COUNT=2"])
    ]
    assert parsed.skipped_count == 1
    assert parsed.warnings[0].line == 12 and "RSCALE=CHINESE" in parsed.warnings[0].message


def test_this_and_future_splits_the_series() -> None:
    data = _doc(
        "BEGIN:VEVENT",
        "UID:s",
        "DTSTART:20260105T100000Z",
        "DURATION:PT1H",
        "RRULE:FREQ=DAILY;COUNT=5",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:s",
        "RECURRENCE-ID;RANGE=THISANDFUTURE:20260107T100000Z",
        "DTSTART:20260107T120000Z",
        "DURATION:PT1H",
        "END:VEVENT",
    )
    hours = [(s.day, s.hour) for s in _starts(data)]
    assert hours == [(5, 10), (6, 10), (7, 12), (8, 12), (9, 12)]
    parsed = from_ics(data, default_zone="UTC")
    assert [e.ical_uid for e in parsed.events] == ["s", "s-R20260107T100000Z"]


def test_a_year_0_date_is_an_invalid_argument_naming_its_line() -> None:
    broken = _doc(
        "BEGIN:VEVENT",
        "UID:x",
        "DTSTART;VALUE=DATE:20260219",
        "RRULE:FREQ=WEEKLY",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:x",
        "RECURRENCE-ID;TZID=UTC+01:20260226T000000",
        "DTSTART;VALUE=DATE:20260227",
        "END:VEVENT",
    )
    assert problems(broken)[0].startswith("line 11: unknown time zone 'UTC+01'")


def _series_with_cancelled_exception() -> list[ev_pb.Event]:
    master = ev_pb.Event(
        ical_uid="m",
        start=at("Europe/Berlin", 2026, 1, 5, 9),
        end=at("Europe/Berlin", 2026, 1, 5, 10),
        recurrence_type=ev_pb.RECURRENCE_TYPE_MASTER,
        recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;UNTIL=20260108T090000"]),
    )
    cancelled = ev_pb.Event(
        ical_uid="m",
        start=at("Europe/Berlin", 2026, 1, 6, 9),
        end=at("Europe/Berlin", 2026, 1, 6, 10),
        original_start=at("Europe/Berlin", 2026, 1, 6, 9),
        recurrence_type=ev_pb.RECURRENCE_TYPE_INSTANCE,
        status=ev_pb.EVENT_STATUS_CANCELLED,
    )
    return [master, cancelled]


def test_cancelled_exception_is_exported_as_exdate_and_until_in_utc() -> None:
    exported = to_ics(
        cal_pb.Calendar(time_zone="Europe/Berlin"), _series_with_cancelled_exception()
    )
    calendar = icalendar.Calendar.from_ical(exported)
    (vevent,) = calendar.walk("VEVENT")
    assert vevent["EXDATE"].dts[0].dt.replace(tzinfo=None) == datetime(2026, 1, 6, 9)
    # RFC 5545 3.3.10: UTC for a zoned DTSTART (09:00 CET is 08:00Z).
    assert vevent["RRULE"].to_ical() == b"FREQ=DAILY;UNTIL=20260108T080000Z"
    assert b"X-WR-TIMEZONE" not in exported
    assert len(_starts(exported)) == 3


def test_rdate_period_keeps_its_length_and_is_exported_as_period() -> None:
    data = _doc(
        "BEGIN:VEVENT",
        "UID:p",
        "DTSTART:20260105T100000Z",
        "DTEND:20260105T110000Z",
        "RDATE;VALUE=PERIOD:20260107T100000Z/20260107T130000Z",
        "END:VEVENT",
    )
    parsed = from_ics(data, default_zone="UTC")
    (exception,) = parsed.exceptions
    assert utc_of(exception.end) == datetime(2026, 1, 7, 13, tzinfo=UTC)
    exported = to_ics(cal_pb.Calendar(), [*parsed.events, *parsed.exceptions])
    assert b"RDATE;VALUE=PERIOD:20260107T100000Z/20260107T130000Z" in exported
    assert exported.count(b"BEGIN:VEVENT") == 1


def test_an_imported_header_is_written_again() -> None:
    data = _doc(
        "BEGIN:VEVENT",
        "UID:h",
        "DTSTART:20260105T100000",
        "END:VEVENT",
        header="X-WR-CALNAME:Team\r\nX-WR-TIMEZONE:Europe/Berlin\r\nMETHOD:PUBLISH\r\n",
    )
    parsed = from_ics(data, default_zone="UTC")
    assert parsed.header == [("X-WR-CALNAME", "Team"), ("X-WR-TIMEZONE", "Europe/Berlin")]
    exported = to_ics(cal_pb.Calendar(display_name="Other"), parsed.events, header=parsed.header)
    calendar = icalendar.Calendar.from_ical(exported)
    assert str(calendar["X-WR-CALNAME"]) == "Team" and "METHOD" not in calendar


@pytest.mark.parametrize("until", ["20231001", "20231001T000000Z"])
def test_until_before_dtstart_has_no_instances(until: str) -> None:
    data = _doc(
        "BEGIN:VEVENT",
        "UID:u",
        "DTSTART;VALUE=DATE:20231002" if "T" not in until else "DTSTART:20231002T090000Z",
        f"RRULE:FREQ=WEEKLY;UNTIL={until}",
        "END:VEVENT",
    )
    assert _starts(data) == []
