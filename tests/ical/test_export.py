"""Exported documents are valid for standard consumers: icalendar parses
them, recurring_ical_events expands them to the right instants, and every
TZID has a correct VTIMEZONE."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb

from connectors.errors import InvalidArgument
from connectors.ical import ZoneResolver, event_to_vevent, from_ics, to_ics, vevent_to_event
from connectors.ical.vtimezone import vtimezone

from .support import at, day, floating, load, moment, physical_lines, single, stamp

CALENDAR = cal_pb.Calendar(
    display_name="Team; Berlin", description="Shared\nteam calendar", time_zone="Europe/Berlin",
    color="#FF0000",
)  # fmt: skip


def series() -> list[ev_pb.Event]:
    """Weekly on Mondays 09:00 Berlin across the DST change of 2026-03-29,
    with one instance moved and one cancelled."""
    master = single(
        ical_uid="weekly@example.com",
        display_name="Weekly",
        start=at("Europe/Berlin", 2026, 3, 16, 9),
        end=at("Europe/Berlin", 2026, 3, 16, 10),
        recurrence=ev_pb.Recurrence(
            rrules=["FREQ=WEEKLY;BYDAY=MO;COUNT=5"], exdates=[at("Europe/Berlin", 2026, 4, 6, 9)]
        ),
        recurrence_type=ev_pb.RECURRENCE_TYPE_MASTER,
    )
    moved = single(
        ical_uid="weekly@example.com",
        display_name="Weekly (moved)",
        start=at("Europe/Berlin", 2026, 3, 30, 11),
        end=at("Europe/Berlin", 2026, 3, 30, 12),
        original_start=at("Europe/Berlin", 2026, 3, 30, 9),
        recurrence_type=ev_pb.RECURRENCE_TYPE_INSTANCE,
    )
    return [master, moved]


def expand(data: bytes, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
    calendar = icalendar.Calendar.from_ical(data)
    found = recurring_ical_events.of(calendar).between(start, end)
    return sorted((str(e["SUMMARY"]), e.start.astimezone(UTC)) for e in found)


def utc(*args: int) -> datetime:
    return moment(args, UTC)


def test_dst_crossing_weekly_series_with_exception_expands_correctly():
    data = to_ics(CALENDAR, series())
    assert expand(data, utc(2026, 3, 1), utc(2026, 5, 1)) == [
        ("Weekly", utc(2026, 3, 16, 8)),  # CET
        ("Weekly", utc(2026, 3, 23, 8)),
        ("Weekly", utc(2026, 4, 13, 7)),  # CEST: still 09:00 local
        ("Weekly (moved)", utc(2026, 3, 30, 9)),  # 11:00 CEST
        # 2026-04-06 is cancelled (EXDATE).
    ]


def test_imported_rfc_example_re_exports_to_the_same_instants():
    parsed = from_ics(load("rfc5545_weekly_with_exception.ics"), default_zone="UTC")
    data = to_ics(cal_pb.Calendar(display_name="x"), parsed.events + parsed.exceptions)
    assert expand(data, utc(2026, 2, 1), utc(2026, 5, 1)) == [
        ("Weekly standup", utc(2026, 2, 23, 14)),  # EST
        ("Weekly standup", utc(2026, 3, 2, 14)),
        ("Weekly standup", utc(2026, 3, 23, 13)),  # EDT
        ("Weekly standup", utc(2026, 3, 30, 13)),
        ("Weekly standup (moved)", utc(2026, 3, 9, 14)),
    ]


def test_document_shape_and_calendar_properties():
    data = to_ics(CALENDAR, series())
    lines = physical_lines(data)
    assert lines[:3] == [b"BEGIN:VCALENDAR", b"VERSION:2.0", b"PRODID:-//Almanac//almanac.dev//EN"]
    assert all(len(line) <= 75 for line in lines)
    calendar = icalendar.Calendar.from_ical(data)
    assert calendar["CALSCALE"] == "GREGORIAN"
    # icalendar keeps NAME and X- values escaped (UNKNOWN type, RFC 7265).
    assert calendar["NAME"].to_ical() == calendar["X-WR-CALNAME"].to_ical() == b"Team\\; Berlin"
    assert calendar["DESCRIPTION"] == "Shared\nteam calendar"
    # No X-WR-TIMEZONE: readers that honour it would move UTC and floating series.
    assert "X-WR-TIMEZONE" not in calendar
    assert calendar["COLOR"] == "red"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    master, moved = calendar.walk("VEVENT")
    assert master["UID"] == moved["UID"] == "weekly@example.com"
    assert moved["RECURRENCE-ID"].params["TZID"] == "Europe/Berlin"
    assert "RECURRENCE-ID" not in master


def test_a_vtimezone_for_every_zone_used():
    flight = single(
        ical_uid="flight@example.com",
        start=at("America/Sao_Paulo", 2026, 7, 1, 22),
        end=at("Asia/Tokyo", 2026, 7, 3, 6),
    )
    all_day = single(ical_uid="day@example.com", start=day(2026, 7, 4), end=day(2026, 7, 5))
    utc_event = single(
        ical_uid="utc@example.com", start=at("UTC", 2026, 7, 4, 9), end=at("UTC", 2026, 7, 4, 10)
    )
    wake = single(
        ical_uid="wake@example.com",
        start=floating(2026, 7, 4, 7, 0),
        end=floating(2026, 7, 4, 8, 0),
    )
    data = to_ics(CALENDAR, [*series(), flight, all_day, utc_event, wake])
    calendar = icalendar.Calendar.from_ical(data)
    assert calendar.get_missing_tzids() == set()
    assert sorted(str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")) == [
        "America/Sao_Paulo", "Asia/Tokyo", "Europe/Berlin",
    ]  # fmt: skip
    assert b"DTSTART:20260704T090000Z" in data  # UTC needs none
    assert b"DTSTART:20260704T070000\r\n" in data  # floating: no TZID


@pytest.mark.parametrize(
    ("zone", "first", "last"),
    [
        ("Europe/Berlin", 1990, 2030),  # rule change 1996 (September -> October)
        ("America/New_York", 2005, 2010),  # rule change 2007
        ("Australia/Lord_Howe", 2024, 2027),  # half-hour DST, southern hemisphere
        ("Pacific/Kiritimati", 1993, 1996),  # skipped 1994-12-31 entirely
        ("Africa/Casablanca", 2019, 2024),  # Ramadan changes: no yearly rule
        ("Europe/Dublin", 2024, 2026),  # "negative" DST in tzdata
        ("Asia/Kolkata", 2026, 2026),  # no changes at all
    ],
)
def test_generated_vtimezones_match_tzdata(zone, first, last):
    component = vtimezone(zone, first, last)
    parsed = icalendar.Calendar.from_ical(
        b"BEGIN:VCALENDAR\r\n" + component.to_ical() + b"END:VCALENDAR\r\n"
    )
    timezone: Any = parsed.walk("VTIMEZONE")[0]
    custom = timezone.to_tz(lookup_tzid=False)  # dateutil, not zoneinfo
    reference = ZoneInfo(zone)
    # Every unambiguous local time maps to the same instant: hour by hour
    # around each change, every six hours elsewhere; regular zones also for
    # years after the range (the open RRULE).
    end = last + (0 if zone == "Africa/Casablanca" else 4)
    for local in local_times(reference, first, end):
        early, late = local.replace(tzinfo=reference), local.replace(tzinfo=reference, fold=1)
        if early.utcoffset() == late.utcoffset():
            assert local.replace(tzinfo=custom).utcoffset() == early.utcoffset(), local


def local_times(zone: ZoneInfo, first: int, last: int) -> Iterator[datetime]:
    day = datetime(first, 1, 1)
    while day < datetime(last + 1, 1, 1):
        around = [(day + timedelta(days=d)).replace(tzinfo=zone).utcoffset() for d in (-1, 0, 1, 2)]
        step = 1 if len(set(around)) > 1 else 6
        for hour in range(0, 24, step):
            yield day + timedelta(hours=hour)
        day += timedelta(days=1)


def test_rrules_are_written_verbatim_and_unsafe_ones_normalised():
    event = single(
        recurrence=ev_pb.Recurrence(rrules=["RRULE:FREQ=DAILY;COUNT=3", "freq=weekly;byday=mo"]),
        recurrence_type=ev_pb.RECURRENCE_TYPE_MASTER,
    )
    data = to_ics(CALENDAR, [event])
    assert b"\r\nRRULE:FREQ=DAILY;COUNT=3\r\n" in data
    assert b"\r\nRRULE:freq=weekly;byday=mo\r\n" in data


def test_invalid_events_are_reported_by_field():
    no_start = single()
    no_start.ClearField("start")
    bad_zone = single(end=at("UTC", 2026, 5, 4, 10))
    bad_zone.end.time_zone = "Mars/Base"
    bad_rule = single(recurrence=ev_pb.Recurrence(rrules=["FREQ=SOMETIMES"]))
    with pytest.raises(InvalidArgument) as caught:
        to_ics(CALENDAR, [single(), no_start, bad_zone, bad_rule])
    assert [field for field, _ in caught.value.violations] == [
        "events[1].start",
        "events[2].end.time_zone",
        "events[3].recurrence.rrules[0]",
    ]
    with pytest.raises(InvalidArgument, match=r"calendar\.time_zone"):
        to_ics(cal_pb.Calendar(time_zone="Mars/Base"), [])


def test_single_vevent_conversion_for_caldav():
    # A CalDAV server hands back what icalendar parses: aware datetimes,
    # X- properties kept escaped (UNKNOWN), its own VTIMEZONE objects.
    master, _ = series()
    # icalendar re-serialises RRULE parts in its own order (this package
    # writes and reads them verbatim), so the rule is given in that order.
    master.recurrence.rrules[:] = ["FREQ=WEEKLY;COUNT=5;BYDAY=MO"]
    master.reminders.append(
        ev_pb.Reminder(minutes=5, method=common_pb2.REMINDER_METHOD_POPUP, popup="a, b; c")
    )
    master.custom_properties.add(key="k", value="v;1,2\\3", private=True)
    vevent = event_to_vevent(master)
    assert vevent["DTSTART"].params["TZID"] == "Europe/Berlin"
    resource = icalendar.Calendar()
    resource.add_component(vtimezone("Europe/Berlin", 2026, 2028))
    resource.add_component(vevent)
    parsed = icalendar.Calendar.from_ical(resource.to_ical())
    (component,) = parsed.walk("VEVENT")
    got = vevent_to_event(component, zones=ZoneResolver.from_calendar(parsed))
    assert got == master


def test_dtstamp_defaults_to_now_without_create_or_update_time():
    event = single()
    event.ClearField("update_time")
    before = datetime.now(UTC).replace(microsecond=0)
    vevent = event_to_vevent(event)
    assert before <= vevent["DTSTAMP"].dt <= datetime.now(UTC)
    with_stamp = event_to_vevent(single(create_time=stamp(2020, 1, 1)))
    assert with_stamp["DTSTAMP"].dt == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_exception_recurrence_id_takes_the_masters_value_type():
    master = single(
        ical_uid="days@example.com",
        start=day(2026, 3, 2),
        end=day(2026, 3, 3),
        recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=5"]),
        recurrence_type=ev_pb.RECURRENCE_TYPE_MASTER,
    )
    moved = single(
        ical_uid="days@example.com",
        start=at("Europe/Berlin", 2026, 3, 4, 15),
        end=at("Europe/Berlin", 2026, 3, 4, 16),
        original_start=at("Europe/Berlin", 2026, 3, 4, 0),  # not a date: conformed
        recurrence_type=ev_pb.RECURRENCE_TYPE_INSTANCE,
    )
    data = to_ics(CALENDAR, [master, moved])
    assert b"RECURRENCE-ID;VALUE=DATE:20260304" in data
    parsed = from_ics(data, default_zone="Europe/Berlin")
    assert parsed.exceptions[0].original_start == day(2026, 3, 4)
    calendar = icalendar.Calendar.from_ical(data)
    found = recurring_ical_events.of(calendar).between(date(2026, 3, 1), date(2026, 3, 8))
    assert sorted(str(e.start) for e in found) == [
        "2026-03-02", "2026-03-03", "2026-03-04 15:00:00+01:00", "2026-03-05", "2026-03-06",
    ]  # fmt: skip
