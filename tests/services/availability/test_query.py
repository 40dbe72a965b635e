"""AvailabilityService.QueryAvailability end to end: what is free, and why not.

Kloudless semantics (free ranges without an increment, bookable slots
aligned to the window start with one), working hours in the schedules' own
zones, buffers, the busy rules (all-day, recurring, cancelled, transparent,
declined, tentative), explanations, optional groups, max_results and the
output time zone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import grpc
from almanac.v1 import availability_service_pb2 as av_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import field_mask_pb2
from google.type import date_pb2, datetime_pb2, dayofweek_pb2

from tests.helpers import Almanac, TestAccount, on_each_store
from tests.services.availability.support import (
    AvailabilityClient,
    at,
    availability_fixture,  # noqa: F401  (the `availability` fixture)
    availability_processes_fixture,  # noqa: F401
    day,
    dur,
    local,
    tod,
    trange,
    utc,
    weekly,
)

Code = grpc.StatusCode
UTC = dt.UTC
WORKDAYS = list(range(dayofweek_pb2.MONDAY, dayofweek_pb2.SATURDAY))
K = av_pb.ExclusionKind
MONDAY = utc(2027, 1, 11)  # Monday 11 January 2027 (in the future of "now")


def t(hour: int, minute: int = 0, days: int = 0) -> dt.datetime:
    """UTC time on Monday 2027-01-11 (plus ``days``)."""
    return MONDAY + dt.timedelta(days=days, hours=hour, minutes=minute)


def when(value: Any) -> dt.datetime:
    return value.ToDatetime(UTC)


def spans(reply: av_pb.QueryAvailabilityResponse) -> list[tuple[dt.datetime, dt.datetime]]:
    return [(when(a.start_time), when(a.end_time)) for a in reply.available_times]


def person(*calendars: str, label: str = "", ignore: bool = False) -> av_pb.Participant:
    return av_pb.Participant(calendars=list(calendars), label=label, ignore_working_hours=ignore)


class World:
    """One test's account, its events and the availability service."""

    def __init__(self, account: TestAccount, availability: AvailabilityClient) -> None:
        self.account = account
        self.events = account.almanac.events()
        self.cals = account.almanac.calendars()
        self.token = account.token("calendars:read")
        self.availability = availability(self.token)

    def calendar(self, name: str = "Cal", zone: str = "UTC") -> str:
        return str(self.account.create_calendar(name, time_zone=zone).name)

    def event(
        self, calendar: str, start: dt.datetime, end: dt.datetime, **fields: Any
    ) -> ev_pb.Event:
        fields.setdefault("display_name", "Busy")
        return self.events.CreateEvent(
            ev_pb.CreateEventRequest(
                parent=calendar, event=ev_pb.Event(start=at(start), end=at(end), **fields)
            )
        )

    def all_day(self, calendar: str, first: dt.date, days: int = 1, **fields: Any) -> ev_pb.Event:
        return self.events.CreateEvent(
            ev_pb.CreateEventRequest(
                parent=calendar,
                event=ev_pb.Event(
                    display_name="All day",
                    start=day(first),
                    end=day(first + dt.timedelta(days=days)),
                    **fields,
                ),
            )
        )

    def schedule(self, calendar: str, zone: str = "", **fields: Any) -> cal_pb.Schedule:
        return self.cals.CreateSchedule(
            cal_pb.CreateScheduleRequest(
                parent=calendar,
                schedule=cal_pb.Schedule(display_name="Hours", time_zone=zone, **fields),
            )
        )

    def query(
        self,
        participants: list[av_pb.Participant],
        windows: list[tuple[dt.datetime, dt.datetime]],
        minutes: int,
        **fields: Any,
    ) -> av_pb.QueryAvailabilityResponse:
        for name in ("time_slot_increment", "buffer_before", "buffer_after"):
            if isinstance(fields.get(name), int):
                fields[name] = dur(fields[name])
        return self.availability.QueryAvailability(
            av_pb.QueryAvailabilityRequest(
                participants=participants,
                meeting_duration=dur(minutes),
                time_windows=[trange(s, e) for s, e in windows],
                **fields,
            )
        )


def world(account: TestAccount, availability: AvailabilityClient) -> World:
    return World(account, availability)


# --- Kloudless: free ranges and slots --------------------------------------------------------


@on_each_store
def test_without_increment_free_ranges_at_least_the_meeting_long(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    w = world(account, availability)
    cal = account.primary
    w.event(cal, t(10), t(11))
    w.event(cal, t(12), t(12, 20))
    w.event(cal, t(12, 40), t(13))  # leaves 12:20-12:40, shorter than the meeting
    w.event(cal, t(15), t(15, 30))
    w.event(cal, t(15, 30), t(16))  # touching: one block
    reply = w.query([person(cal)], [(t(9), t(17))], 30)
    assert spans(reply) == [(t(9), t(10)), (t(11), t(12)), (t(13), t(15)), (t(16), t(17))]
    assert not reply.truncated
    # Several windows, given out of order: ranges in start order, never across windows.
    reply = w.query(
        [person(cal)], [(t(16), t(18)), (t(8), t(10, 30)), (t(13), t(14)), (t(14), t(14, 20))], 30
    )
    assert spans(reply) == [(t(8), t(10)), (t(13), t(14)), (t(16), t(18))]


@on_each_store
def test_with_increment_slots_of_the_meeting_length_aligned_to_the_window_start(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    w = world(account, availability)
    cal = account.primary
    w.event(cal, t(10, 20), t(11))
    reply = w.query([person(cal)], [(t(9, 10), t(13))], 60, time_slot_increment=30)
    starts = [s for s, _ in spans(reply)]
    # 09:10 fits before 10:20; 09:40 would end 10:40; the next aligned start
    # after 11:00 is 11:10; 12:10 would end after the window.
    assert starts == [t(9, 10), t(11, 10), t(11, 40)]
    assert all(e - s == dt.timedelta(hours=1) for s, e in spans(reply))
    # A second window aligns to its own start.
    reply = w.query(
        [person(cal)], [(t(9, 10), t(10, 10)), (t(14, 5), t(15, 30))], 45, time_slot_increment=40
    )
    assert [s for s, _ in spans(reply)] == [t(9, 10), t(14, 5), t(14, 45)]
    # An increment larger than the meeting leaves gaps between slots.
    reply = w.query([person(cal)], [(t(13), t(17))], 30, time_slot_increment=90)
    assert spans(reply) == [(t(13), t(13, 30)), (t(14, 30), t(15)), (t(16), t(16, 30))]


def test_max_results_and_truncated(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    w = world(account, availability)
    cal = account.primary
    window = [(t(9), t(17))]
    reply = w.query([person(cal)], window, 60, time_slot_increment=60, max_results=3)
    assert [s for s, _ in spans(reply)] == [t(9), t(10), t(11)]
    assert reply.truncated
    exact = w.query([person(cal)], window, 60, time_slot_increment=60, max_results=8)
    assert len(exact.available_times) == 8 and not exact.truncated
    default = w.query([person(cal)], [(t(0), t(0, days=3))], 15, time_slot_increment=15)
    assert len(default.available_times) == 100 and default.truncated  # 0 means 100
    most = w.query(
        [person(cal)], [(t(0), t(0, days=30))], 15, time_slot_increment=15, max_results=1000
    )
    assert len(most.available_times) == 1000 and most.truncated
    w.event(cal, t(10), t(11))
    w.event(cal, t(12), t(13))
    ranges = w.query([person(cal)], window, 30, max_results=2)
    assert spans(ranges) == [(t(9), t(10)), (t(11), t(12))] and ranges.truncated
    ranges = w.query([person(cal)], window, 30, max_results=3)
    assert len(ranges.available_times) == 3 and not ranges.truncated


def test_output_time_zone_for_local_fields(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    w = world(account, availability)
    cal = account.primary
    w.event(cal, t(10), t(23))
    reply = w.query([person(cal)], [(t(9), t(10)), (t(23), t(23, 50))], 30)
    default = reply.available_times[0]
    assert (default.local_start.hours, default.local_start.minutes) == (9, 0)
    assert default.local_start.time_zone.id == "UTC" and default.local_end.time_zone.id == "UTC"
    reply = w.query(
        [person(cal)], [(t(9), t(10)), (t(23), t(23, 50))], 30, time_zone="Asia/Kolkata"
    )
    first, second = reply.available_times
    assert when(first.start_time) == t(9)  # the instants do not change
    for a in (first, second):
        for instant, wall in ((a.start_time, a.local_start), (a.end_time, a.local_end)):
            clock = when(instant).astimezone(ZoneInfo("Asia/Kolkata"))
            assert (wall.year, wall.month, wall.day, wall.hours, wall.minutes) == (
                clock.year,
                clock.month,
                clock.day,
                clock.hour,
                clock.minute,
            )
            assert wall.time_zone.id == "Asia/Kolkata"
    # 23:00 UTC is 04:30 the next day in India.
    assert (second.local_start.day, second.local_start.hours, second.local_start.minutes) == (
        12,
        4,
        30,
    )


def test_no_participants_means_the_primary_calendar_of_the_tokens_account(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    w = world(account, availability)
    w.event(account.primary, t(10), t(16))
    reply = w.availability.QueryAvailability(
        av_pb.QueryAvailabilityRequest(meeting_duration=dur(60), time_windows=[trange(t(9), t(17))])
    )
    assert spans(reply) == [(t(9), t(10)), (t(16), t(17))]
    # The alias names work as participants too.
    reply = w.query([person("accounts/me/calendars/primary")], [(t(9), t(17))], 60)
    assert spans(reply) == [(t(9), t(10)), (t(16), t(17))]


# --- working hours ---------------------------------------------------------------------------


@on_each_store
def test_sydney_and_berlin_overlap_only_where_both_work(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    w = world(account, availability)
    sydney = w.calendar("Sydney", "Australia/Sydney")
    berlin = w.calendar("Berlin", "Europe/Berlin")
    # 07:00-19:00 on workdays, each in its own zone (the schedules take the
    # calendar's zone when they name none).
    w.schedule(sydney, weekly_hours=weekly(WORKDAYS, 7 * 60, 19 * 60))
    w.schedule(berlin, "Europe/Berlin", weekly_hours=weekly(WORKDAYS, 7 * 60, 19 * 60))
    # Monday 29 March to Friday 9 April 2027: Berlin springs forward on the
    # 28th (UTC+2), Sydney falls back on 4 April (UTC+11 -> UTC+10).
    start, end = utc(2027, 3, 28), utc(2027, 4, 10)
    reply = w.query([person(sydney), person(berlin)], [(start, end)], 60)
    expected = []
    for d in range(29, 29 + 12):
        date = dt.date(2027, 3, 1) + dt.timedelta(days=d - 1)
        if date.weekday() >= 5:
            continue
        # Berlin works 05:00-17:00 UTC; Sydney's day ends 19:00 local, 08:00
        # UTC before its change and 09:00 UTC after it.
        day0 = dt.datetime.combine(date, dt.time(), UTC)
        sydney_end = 8 if date < dt.date(2027, 4, 4) else 9
        expected.append((day0 + dt.timedelta(hours=5), day0 + dt.timedelta(hours=sydney_end)))
    assert spans(reply) == expected
    # Each alone: Berlin's working days stay 07:00-19:00 Berlin time.
    alone = w.query([person(berlin)], [(utc(2027, 3, 26), utc(2027, 3, 30))], 60)
    assert spans(alone) == [
        (utc(2027, 3, 26, 6), utc(2027, 3, 26, 18)),
        (utc(2027, 3, 29, 5), utc(2027, 3, 29, 17)),
    ]
    # Ignoring working hours leaves the whole window.
    ignored = w.query(
        [person(sydney, ignore=True), person(berlin, ignore=True)], [(start, end)], 60
    )
    assert spans(ignored) == [(start, end)]


def test_schedules_overrides_dates_and_disabled(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    w = world(account, availability)
    cal = w.calendar("New York", "America/New_York")
    w.schedule(
        cal,
        weekly_hours=weekly(WORKDAYS, 9 * 60, 17 * 60),
        date_overrides=[
            # Tuesday: a short day; Wednesday: off.
            cal_pb.DateOverride(
                date=date_pb2.Date(year=2027, month=1, day=12),
                intervals=[cal_pb.LocalInterval(start_time=tod(10 * 60), end_time=tod(12 * 60))],
            ),
            cal_pb.DateOverride(date=date_pb2.Date(year=2027, month=1, day=13)),
        ],
        end_date=date_pb2.Date(year=2027, month=1, day=14),  # through Thursday
    )
    # A disabled schedule adds nothing; a second enabled one adds its hours.
    w.schedule(cal, weekly_hours=weekly([dayofweek_pb2.MONDAY], 0, 24 * 60), disabled=True)
    w.schedule(cal, "Europe/London", weekly_hours=weekly([dayofweek_pb2.THURSDAY], 6 * 60, 9 * 60))
    reply = w.query([person(cal)], [(t(0), t(0, days=5))], 60)
    assert spans(reply) == [
        (t(14), t(22)),  # Monday 09:00-17:00 New York
        (t(15, days=1), t(17, days=1)),  # Tuesday 10:00-12:00
        (t(6, days=3), t(9, days=3)),  # Thursday 06:00-09:00 London
        (t(14, days=3), t(22, days=3)),  # and New York's day
    ]  # Friday: after end_date, and no other schedule: unavailable


def test_a_person_with_two_calendars_works_where_both_schedules_allow(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    w = world(account, availability)
    office = w.calendar("Office", "Europe/Berlin")
    home = w.calendar("Home", "Europe/Berlin")
    free = w.calendar("No schedule", "Europe/Berlin")
    w.schedule(office, weekly_hours=weekly(WORKDAYS, 8 * 60, 16 * 60))
    w.schedule(home, weekly_hours=weekly(WORKDAYS, 10 * 60, 20 * 60))
    w.event(free, t(12), t(13))
    reply = w.query([person(office, home, free)], [(t(0), t(24))], 30)
    assert spans(reply) == [(t(9), t(12)), (t(13), t(15))]  # 10:00-16:00 Berlin, less 13-14


# --- buffers -----------------------------------------------------------------------------------


def test_buffers_before_and_after_busy_time(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    w = world(account, availability)
    cal = account.primary
    w.event(cal, t(12), t(13))
    w.event(cal, t(18), t(19))  # outside the window, its buffer reaches in
    reply = w.query([person(cal)], [(t(9), t(17, 30))], 30, buffer_before=15, buffer_after=30)
    assert spans(reply) == [(t(9), t(11, 45)), (t(13, 30), t(17, 30))]
    reply = w.query([person(cal)], [(t(9), t(17, 30))], 30, buffer_before=60)
    assert spans(reply) == [(t(9), t(11)), (t(13), t(17))]
    # Before a block that starts right after the window ends.
    reply = w.query([person(cal)], [(t(16), t(18))], 30, buffer_before=45)
    assert spans(reply) == [(t(16), t(17, 15))]
    # A block that ended before the window still pushes its buffer in.
    reply = w.query([person(cal)], [(t(19), t(21))], 30, buffer_after=240)
    assert spans(reply) == []
    reply = w.query([person(cal)], [(t(19), t(21))], 30, buffer_after=90)
    assert spans(reply) == [(t(20, 30), t(21))]
    # Slots respect the buffers too.
    reply = w.query(
        [person(cal)],
        [(t(9), t(17))],
        60,
        buffer_before=30,
        buffer_after=30,
        time_slot_increment=60,
    )
    assert [s for s, _ in spans(reply)] == [t(9), t(10), t(14), t(15), t(16)]


# --- the busy rules -----------------------------------------------------------------------


@on_each_store
def test_all_day_events_block_the_whole_local_day_unless_transparent(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    w = world(account, availability)
    ny = w.calendar("New York", "America/New_York")
    tokyo = w.calendar("Tokyo", "Asia/Tokyo")
    w.all_day(ny, dt.date(2027, 1, 12))  # 05:00 UTC Tue to 05:00 UTC Wed
    w.all_day(ny, dt.date(2027, 1, 14), transparent=True)
    w.all_day(tokyo, dt.date(2027, 1, 15), days=2)  # Fri and Sat in Tokyo
    window = [(t(0), t(0, days=7))]
    assert spans(w.query([person(ny)], window, 60)) == [
        (t(0), t(5, days=1)),
        (t(5, days=2), t(0, days=7)),
    ]
    # 2027-01-15 00:00 Tokyo is 2027-01-14 15:00 UTC; two days.
    assert spans(w.query([person(tokyo)], window, 60)) == [
        (t(0), t(15, days=3)),
        (t(15, days=5), t(0, days=7)),
    ]


@on_each_store
def test_recurring_events_are_expanded_in_their_zone(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    w = world(account, availability)
    cal = w.calendar("Berlin", "Europe/Berlin")
    # Weekly on Friday 09:00-10:00 Berlin time, across the spring change
    # (2027-03-28): 08:00 UTC before it, 07:00 UTC after it.
    first = local("Europe/Berlin", 2027, 3, 19, 9)
    w.event(
        cal,
        first,
        first + dt.timedelta(hours=1),
        recurrence=ev_pb.Recurrence(rrules=["FREQ=WEEKLY;COUNT=3"]),
    )
    # Daily 12:00-12:30 New York time, three times.
    noon = local("America/New_York", 2027, 3, 25, 12)
    w.event(
        cal,
        noon,
        noon + dt.timedelta(minutes=30),
        recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=3"]),
    )
    # All-day, every day, twice.
    w.events.CreateEvent(
        ev_pb.CreateEventRequest(
            parent=cal,
            event=ev_pb.Event(
                display_name="Offsite",
                start=day(dt.date(2027, 3, 30)),
                recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=2"]),
            ),
        )
    )
    reply = w.query(
        [person(cal)],
        [
            (utc(2027, 3, 19, 6), utc(2027, 3, 19, 12)),
            (utc(2027, 3, 25, 14), utc(2027, 3, 28, 18)),
            (utc(2027, 4, 2, 6), utc(2027, 4, 2, 12)),
        ],
        30,
    )
    assert spans(reply) == [
        (utc(2027, 3, 19, 6), utc(2027, 3, 19, 8)),
        (utc(2027, 3, 19, 9), utc(2027, 3, 19, 12)),
        (utc(2027, 3, 25, 14), utc(2027, 3, 25, 16)),  # EDT: noon is 16:00 UTC
        (utc(2027, 3, 25, 16, 30), utc(2027, 3, 26, 8)),  # Friday 09:00 CET is 08:00 UTC
        (utc(2027, 3, 26, 9), utc(2027, 3, 26, 16)),
        (utc(2027, 3, 26, 16, 30), utc(2027, 3, 27, 16)),
        (utc(2027, 3, 27, 16, 30), utc(2027, 3, 28, 18)),
        (utc(2027, 4, 2, 6), utc(2027, 4, 2, 7)),  # CEST: 09:00 is 07:00 UTC
        (utc(2027, 4, 2, 8), utc(2027, 4, 2, 12)),
    ]
    # The all-day series blocks 30 and 31 March, Berlin days (22:00 UTC the evening before).
    reply = w.query([person(cal)], [(utc(2027, 3, 29, 12), utc(2027, 4, 1, 12))], 30)
    assert spans(reply) == [
        (utc(2027, 3, 29, 12), utc(2027, 3, 29, 22)),
        (utc(2027, 3, 31, 22), utc(2027, 4, 1, 12)),
    ]


def test_an_endless_series_blocks_time_years_ahead(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    w = world(account, availability)
    cal = w.calendar("Berlin", "Europe/Berlin")
    first = local("Europe/Berlin", 2027, 1, 4, 9)  # Mondays 09:00-10:00, forever
    w.event(
        cal,
        first,
        first + dt.timedelta(hours=1),
        recurrence=ev_pb.Recurrence(rrules=["FREQ=WEEKLY;BYDAY=MO"]),
    )
    # Monday 2 July 2035: far past any materialized horizon (CEST, 07:00 UTC).
    reply = w.query([person(cal)], [(utc(2035, 7, 2, 6), utc(2035, 7, 2, 10))], 30)
    assert spans(reply) == [
        (utc(2035, 7, 2, 6), utc(2035, 7, 2, 7)),
        (utc(2035, 7, 2, 8), utc(2035, 7, 2, 10)),
    ]


def test_cancelled_transparent_and_declined_events_do_not_block_tentative_ones_do(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    w = world(account, availability)
    cal = account.primary
    ada = "ada@example.com"
    w.event(cal, t(9), t(10), status=ev_pb.EVENT_STATUS_CANCELLED)
    w.event(cal, t(10), t(11), transparent=True)
    w.event(
        cal,
        t(11),
        t(12),
        attendees=[
            ev_pb.Attendee(email="Ada@Example.com", response_status=ev_pb.RESPONSE_STATUS_DECLINED)
        ],
    )
    w.event(cal, t(12), t(13), status=ev_pb.EVENT_STATUS_TENTATIVE)
    w.event(  # someone else declined: still busy for Ada
        cal,
        t(14),
        t(15),
        attendees=[
            ev_pb.Attendee(email="bob@example.com", response_status=ev_pb.RESPONSE_STATUS_DECLINED),
            ev_pb.Attendee(email=ada, response_status=ev_pb.RESPONSE_STATUS_ACCEPTED),
        ],
    )
    # A series with one instance cancelled and one moved.
    series = w.event(
        cal,
        t(16),
        t(16, 30),
        recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=3"]),
    )
    w.events.DeleteEvent(ev_pb.DeleteEventRequest(name=f"{series.name}_20270112T160000Z"))
    w.events.UpdateEvent(
        ev_pb.UpdateEventRequest(
            event=ev_pb.Event(
                name=f"{series.name}_20270113T160000Z", start=at(t(18, days=2)),
                end=at(t(18, 30, days=2)),
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["start", "end"]),
        )
    )  # fmt: skip
    reply = w.query([person(cal, label=ada)], [(t(9), t(20))], 30)
    assert spans(reply) == [(t(9), t(12)), (t(13), t(14)), (t(15), t(16)), (t(16, 30), t(20))]
    # Without the label, nobody declined: 11:00-12:00 is busy.
    reply = w.query([person(cal)], [(t(9), t(20))], 30)
    assert spans(reply) == [(t(9), t(11)), (t(13), t(14)), (t(15), t(16)), (t(16, 30), t(20))]
    # The series: cancelled on Tuesday, moved to 18:00 on Wednesday.
    windows = [(t(15, days=1), t(20, days=1)), (t(15, days=2), t(20, days=2))]
    reply = w.query([person(cal)], windows, 30)
    assert spans(reply) == [
        (t(15, days=1), t(20, days=1)),
        (t(15, days=2), t(18, days=2)),
        (t(18, 30, days=2), t(20, days=2)),
    ]


# --- optional groups --------------------------------------------------------------------------


@on_each_store
def test_any_one_of_three_rooms(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    w = world(account, availability)
    rooms = {name: w.calendar(name) for name in ("Ash", "Birch", "Cedar")}
    w.event(rooms["Ash"], t(9), t(12))
    w.event(rooms["Birch"], t(10), t(14))
    w.event(rooms["Cedar"], t(11), t(13))
    w.event(rooms["Cedar"], t(15), t(16))
    w.event(account.primary, t(16), t(17))
    group = av_pb.ParticipantGroup(
        participants=[person(cal, label=name) for name, cal in rooms.items()]
    )
    reply = w.availability.QueryAvailability(
        av_pb.QueryAvailabilityRequest(
            participants=[person(account.primary, label="me")],
            groups=[group],
            meeting_duration=dur(30),
            time_windows=[trange(t(9), t(17))],
        )
    )
    # 11:00-12:00 every room is taken.
    assert spans(reply) == [(t(9), t(11)), (t(12), t(16))]
    assert [list(a.free_optional) for a in reply.available_times] == [["Cedar"], ["Ash"]]
    # Slots name the rooms free for the whole slot, in request order.
    reply = w.availability.QueryAvailability(
        av_pb.QueryAvailabilityRequest(
            participants=[person(account.primary, label="me")],
            groups=[group],
            meeting_duration=dur(60),
            time_windows=[trange(t(9), t(17))],
            time_slot_increment=dur(60),
        )
    )
    assert [(when(a.start_time).hour, list(a.free_optional)) for a in reply.available_times] == [
        (9, ["Birch", "Cedar"]),
        (10, ["Cedar"]),
        (12, ["Ash"]),
        (13, ["Ash", "Cedar"]),
        (14, ["Ash", "Birch", "Cedar"]),
        (15, ["Ash", "Birch"]),
    ]
    # Two of three: only where two rooms are free.
    group.minimum_free = 2
    reply = w.availability.QueryAvailability(
        av_pb.QueryAvailabilityRequest(
            groups=[group], meeting_duration=dur(30), time_windows=[trange(t(9), t(17))]
        )
    )
    assert spans(reply) == [(t(9), t(10)), (t(13), t(17))]
    assert [list(a.free_optional) for a in reply.available_times] == [
        ["Birch", "Cedar"],
        ["Ash"],  # Ash alone is free 13:00-17:00 throughout
    ]


def test_changed_instances_follow_their_own_status_and_answers(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    w = world(account, availability)
    cal = w.calendar("Team")
    ada = "ada@example.com"
    series = w.event(
        cal,
        t(9),
        t(10),
        recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=4"]),
        attendees=[ev_pb.Attendee(email=ada, response_status=ev_pb.RESPONSE_STATUS_ACCEPTED)],
    )

    def change(key: str, paths: list[str], **fields: Any) -> None:
        w.events.UpdateEvent(
            ev_pb.UpdateEventRequest(
                event=ev_pb.Event(name=f"{series.name}_{key}", **fields),
                update_mask=field_mask_pb2.FieldMask(paths=paths),
            )
        )

    change("20270112T090000Z", ["status"], status=ev_pb.EVENT_STATUS_CANCELLED)
    declined = ev_pb.Attendee(email=ada, response_status=ev_pb.RESPONSE_STATUS_DECLINED)
    change("20270113T090000Z", ["attendees"], attendees=[declined])
    change("20270114T090000Z", ["transparent"], transparent=True)
    windows = [(t(8, days=d), t(11, days=d)) for d in range(4)]
    reply = w.query([person(cal, label=ada)], windows, 30)
    assert spans(reply) == [(t(8), t(9)), (t(10), t(11)), *windows[1:]]
    # For someone else the declined instance still blocks.
    reply = w.query([person(cal, label="bob@example.com")], windows, 30)
    assert spans(reply) == [
        (t(8), t(9)),
        (t(10), t(11)),
        windows[1],
        (t(8, days=2), t(9, days=2)),
        (t(10, days=2), t(11, days=2)),
        windows[3],
    ]
    # Deleting the series frees its changed instances too.
    w.events.DeleteEvent(ev_pb.DeleteEventRequest(name=series.name))
    assert spans(w.query([person(cal, label="bob@example.com")], windows, 30)) == windows


def test_a_long_series_blocks_time_past_its_materialized_instances(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    w = world(account, availability)
    cal = w.calendar("Hourly")
    # 3000 hourly instances: more than are materialized when the series is written.
    w.event(cal, t(9), t(9, 15), recurrence=ev_pb.Recurrence(rrules=["FREQ=HOURLY;COUNT=3000"]))
    for start in (t(9, days=1), utc(2027, 4, 30, 9)):  # the 2000th instance is on 2027-04-04
        reply = w.query([person(cal)], [(start, start + dt.timedelta(hours=3))], 15)
        assert spans(reply) == [
            (start + dt.timedelta(hours=h, minutes=15), start + dt.timedelta(hours=h + 1))
            for h in range(3)
        ]
    # The last instance is 2027-05-16 08:00-08:15 UTC; then the time is free.
    reply = w.query([person(cal)], [(utc(2027, 5, 16, 7, 30), utc(2027, 5, 16, 12))], 15)
    assert spans(reply) == [
        (utc(2027, 5, 16, 7, 30), utc(2027, 5, 16, 8)),
        (utc(2027, 5, 16, 8, 15), utc(2027, 5, 16, 12)),
    ]


def test_floating_events_happen_at_their_wall_clock_time_in_the_calendars_zone(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    w = world(account, availability)
    cal = w.calendar("Berlin", "Europe/Berlin")

    def wall(hour: int) -> common_pb2.EventTime:
        return common_pb2.EventTime(
            floating=datetime_pb2.DateTime(year=2027, month=1, day=11, hours=hour)
        )

    w.events.CreateEvent(
        ev_pb.CreateEventRequest(parent=cal, event=ev_pb.Event(start=wall(9), end=wall(10)))
    )
    reply = w.query([person(cal)], [(t(6), t(12))], 30)
    assert spans(reply) == [(t(6), t(8)), (t(9), t(12))]  # 09:00 CET is 08:00 UTC


def test_a_decline_by_a_similar_email_does_not_free_the_participant(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    """Declines are matched by exact email: `_` and `%` in one are not wildcards."""
    w = world(account, availability)
    cal = account.primary
    w.event(
        cal,
        t(10),
        t(11),
        attendees=[
            ev_pb.Attendee(
                email="annxlee@example.com", response_status=ev_pb.RESPONSE_STATUS_DECLINED
            ),
            ev_pb.Attendee(
                email="ann%z@example.com", response_status=ev_pb.RESPONSE_STATUS_DECLINED
            ),
        ],
    )
    for label in ("ann_lee@example.com", "ann%@example.com"):
        reply = w.query([person(cal, label=label)], [(t(9), t(12))], 30)
        assert spans(reply) == [(t(9), t(10)), (t(11), t(12))], label
    reply = w.query([person(cal, label="ANNxLEE@example.com")], [(t(9), t(12))], 30)
    assert spans(reply) == [(t(9), t(12))]
