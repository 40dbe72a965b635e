"""EventService recurrence: DST, simple recurrence, RDATE/EXDATE, invalid rules."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import grpc
import pytest
from almanac.v1 import event_service_pb2 as ev_pb
from google.type import date_pb2, dayofweek_pb2

from tests.helpers import Almanac, TestAccount, expect_error, on_each_store
from tests.services.events.support import (
    EventsOf,
    at,
    date_of,
    day,
    instant,
    local,
    starts,
    suffix,
    utc,
    wall,
)

Code = grpc.StatusCode
Simple = ev_pb.SimpleRecurrence


def _rule(text: str) -> dict[str, str]:
    text = text.removeprefix("RRULE:")
    return dict(part.split("=", 1) for part in text.split(";"))


@on_each_store
@pytest.mark.parametrize(
    ("zone", "winter", "summer", "spring", "autumn"),
    [
        # 09:00 local in UTC, and the Sundays the clocks change in 2026.
        ("Europe/Berlin", 8, 7, dt.date(2026, 3, 29), dt.date(2026, 10, 25)),
        ("America/New_York", 14, 13, dt.date(2026, 3, 8), dt.date(2026, 11, 1)),
    ],
)
def test_weekly_nine_oclock_stays_at_nine_across_dst(
    almanac: Almanac,
    account: TestAccount,
    zone: str,
    winter: int,
    summer: int,
    spring: dt.date,
    autumn: dt.date,
) -> None:
    events = EventsOf(account)
    first = local(zone, 2026, 1, 5, 9)  # a Monday
    series = events.create(
        display_name="Standup",
        start=at(first),
        end=at(first + dt.timedelta(minutes=30)),
        recurrence=ev_pb.Recurrence(rrules=["FREQ=WEEKLY;UNTIL=20261231T235959Z"]),
    )
    assert series.recurrence_type == ev_pb.RECURRENCE_TYPE_MASTER
    found = events.window(utc(2026, 1, 1), utc(2027, 1, 1))
    assert len(found) == 52
    for instance in found:
        begins = instant(instance.start)
        wall_clock = begins.astimezone(ZoneInfo(zone))
        assert (wall_clock.hour, wall_clock.minute, wall_clock.weekday()) == (9, 0, 0), begins
        expected_hour = summer if spring <= begins.date() < autumn else winter
        assert begins.hour == expected_hour, begins
        assert instant(instance.end) - begins == dt.timedelta(minutes=30)
        assert instance.start.time_zone == zone
        assert instance.name == f"{series.name}_{suffix(begins)}"
    # Both changes are crossed: instances on each side of each.
    hours = [instant(e.start).hour for e in found]
    assert hours.count(summer) and hours.count(winter) and hours[0] == hours[-1] == winter


def test_rrule_instance_in_a_dst_gap_moves_forward(almanac: Almanac, account: TestAccount) -> None:
    """02:30 does not exist on 2026-03-08 in New York: it is read with the
    offset before the gap (RFC 5545 §3.3.5), so the instance is at 03:30 EDT."""
    events = EventsOf(account)
    first = local("America/New_York", 2026, 3, 1, 2, 30)
    series = events.create(
        start=at(first), recurrence=ev_pb.Recurrence(rrules=["FREQ=WEEKLY;COUNT=3"])
    )
    found = events.instances(series.name)
    days = [instant(e.start).astimezone(ZoneInfo("America/New_York")).date() for e in found]
    assert days == [dt.date(2026, 3, 1), dt.date(2026, 3, 8), dt.date(2026, 3, 15)]
    moved = instant(found[1].start)
    assert moved == dt.datetime(2026, 3, 8, 7, 30, tzinfo=dt.UTC)  # 03:30 EDT
    assert [e.instance_index for e in found] == [1, 2, 3]


@on_each_store
def test_simple_weekly_recurrence_is_stored_as_rrule(
    almanac: Almanac, account: TestAccount
) -> None:
    events = EventsOf(account)
    first = local("Europe/Berlin", 2026, 6, 1, 18)  # Monday
    series = events.create(
        start=at(first),
        recurrence=ev_pb.Recurrence(
            simple=Simple(
                period=Simple.PERIOD_WEEK,
                interval=2,
                weekdays=[dayofweek_pb2.MONDAY, dayofweek_pb2.WEDNESDAY],
                end_date=date_pb2.Date(year=2026, month=7, day=1),
            )
        ),
    )
    assert not series.recurrence.HasField("simple")
    (rule,) = series.recurrence.rrules
    # The last second of 2026-07-01 in Berlin, in UTC.
    assert _rule(rule) == {
        "FREQ": "WEEKLY",
        "INTERVAL": "2",
        "BYDAY": "MO,WE",
        "UNTIL": "20260701T215959Z",
    }
    got = events.get(series.name)
    assert got.recurrence == series.recurrence and not got.recurrence.HasField("simple")
    local_days = [
        instant(e.start).astimezone(ZoneInfo("Europe/Berlin")).date()
        for e in events.instances(series.name)
    ]
    assert local_days == [
        dt.date(2026, 6, 1), dt.date(2026, 6, 3), dt.date(2026, 6, 15), dt.date(2026, 6, 17),
        dt.date(2026, 6, 29), dt.date(2026, 7, 1),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("simple", "expected", "count"),
    [
        (Simple(period=Simple.PERIOD_DAY, count=5), {"FREQ": "DAILY", "COUNT": "5"}, 5),
        (
            Simple(period=Simple.PERIOD_WEEK, count=3),
            {"FREQ": "WEEKLY", "COUNT": "3", "BYDAY": "TH"},
            3,
        ),
        (
            Simple(period=Simple.PERIOD_WEEKDAY, count=7),
            {"FREQ": "WEEKLY", "COUNT": "7", "BYDAY": "MO,TU,WE,TH,FR"},
            7,
        ),
        (
            Simple(period=Simple.PERIOD_MONTH, interval=3, count=4),
            {"FREQ": "MONTHLY", "INTERVAL": "3", "COUNT": "4"},
            4,
        ),
        (
            Simple(period=Simple.PERIOD_YEAR, end_date=date_pb2.Date(year=2029, month=1, day=1)),
            {"FREQ": "YEARLY", "UNTIL": "20290101"},
            4,  # 2026 to 2029: the end date is inclusive
        ),
    ],
    ids=["day-count", "week-default-weekday", "weekday", "month-interval", "year-until"],
)
def test_simple_recurrence_periods(
    almanac: Almanac,
    account: TestAccount,
    simple: ev_pb.SimpleRecurrence,
    expected: dict[str, str],
    count: int,
) -> None:
    events = EventsOf(account)
    series = events.create(start=day(2026, 1, 1), recurrence=ev_pb.Recurrence(simple=simple))
    assert [_rule(r) for r in series.recurrence.rrules] == [expected]
    assert len(events.instances(series.name)) == count


def test_bad_simple_recurrence(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.create(
            start=day(2026, 1, 1),
            recurrence=ev_pb.Recurrence(
                simple=Simple(interval=1001, count=0), rrules=["FREQ=DAILY"]
            ),
        ),
    )
    assert {
        "event.recurrence.simple",
        "event.recurrence.simple.period",
        "event.recurrence.simple.interval",
    } <= err.fields, err.fields


@on_each_store
def test_rdates_and_exdates(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    first = local("Europe/Berlin", 2026, 2, 2, 10)  # Monday
    week = dt.timedelta(days=7)
    extra = local("Europe/Berlin", 2026, 2, 14, 15)  # a Saturday afternoon
    series = events.create(
        start=at(first),
        recurrence=ev_pb.Recurrence(
            rrules=["RRULE:FREQ=WEEKLY;COUNT=4"],
            rdates=[at(extra)],
            exdates=[at(first + week)],
        ),
    )
    assert list(series.recurrence.exdates) == [at(first + week)]
    found = events.instances(series.name)
    expected = [first, extra, first + 2 * week, first + 3 * week]
    assert starts(found) == [t.astimezone(dt.UTC) for t in expected]
    # Positions count before EXDATEs, RDATEs in start order.
    assert [e.instance_index for e in found] == [1, 3, 4, 5]
    assert instant(found[1].end) - instant(found[1].start) == dt.timedelta(hours=1)
    listed = events.window(utc(2026, 2, 1), utc(2026, 3, 1))
    assert [e.name for e in listed] == [e.name for e in found]


def test_rdate_of_another_kind_is_invalid(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.create(
            start=day(2026, 2, 2),
            recurrence=ev_pb.Recurrence(
                rrules=["FREQ=DAILY;COUNT=2"], rdates=[at(utc(2026, 3, 1, 9), "UTC")]
            ),
        ),
    )
    assert err.fields == {"event.recurrence.rdates[0]"}


@on_each_store
def test_monthly_on_the_31st_skips_short_months(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    first = local("America/New_York", 2026, 1, 31, 12)
    series = events.create(
        start=at(first), recurrence=ev_pb.Recurrence(rrules=["FREQ=MONTHLY;COUNT=7"])
    )
    found = events.instances(series.name)
    got = [instant(e.start).astimezone(ZoneInfo("America/New_York")) for e in found]
    assert [(t.month, t.day, t.hour) for t in got] == [
        (1, 31, 12), (3, 31, 12), (5, 31, 12), (7, 31, 12), (8, 31, 12), (10, 31, 12),
        (12, 31, 12),
    ]  # fmt: skip
    assert [e.instance_index for e in found] == list(range(1, 8))
    simple = events.create(
        start=day(2026, 1, 31),
        recurrence=ev_pb.Recurrence(simple=Simple(period=Simple.PERIOD_MONTH, count=3)),
    )
    assert [date_of(e.start) for e in events.instances(simple.name)] == [
        dt.date(2026, 1, 31), dt.date(2026, 3, 31), dt.date(2026, 5, 31),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=FORTNIGHTLY",
        "FREQ=WEEKLY;BYDAY=XX",
        "COUNT=3",
        "FREQ=MINUTELY;COUNT=5",
        "FREQ=HOURLY",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=DAILY;COUNT=3;UNTIL=20270101T000000Z",
    ],
)
def test_invalid_rrule_names_its_index(almanac: Almanac, account: TestAccount, rule: str) -> None:
    events = EventsOf(account)
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.create(
            start=at(utc(2026, 1, 5, 9), "UTC"), recurrence=ev_pb.Recurrence(rrules=[rule])
        ),
    )
    assert err.fields == {"event.recurrence.rrules[0]"}, err.fields
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.create(
            start=at(utc(2026, 1, 5, 9), "UTC"),
            recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=2", rule]),
        ),
    )
    assert err.fields == {"event.recurrence.rrules[1]"}, err.fields
    assert events.window(utc(2026, 1, 1), utc(2026, 2, 1)) == []


def test_series_with_every_kind_of_time(almanac: Almanac, account: TestAccount) -> None:
    """Instance ids: YYYYMMDDTHHMMSSZ timed, YYYYMMDD all-day, wall clock floating."""
    cal = account.create_calendar("Tokyo", time_zone="Asia/Tokyo").name
    events = EventsOf(account)
    rule = ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=2"])
    timed = events.create(cal, "timed", start=at(local("Asia/Tokyo", 2026, 3, 1, 8)),
                          recurrence=rule)  # fmt: skip
    all_day = events.create(cal, "allday", start=day(2026, 3, 1), recurrence=rule)
    floating = events.create(cal, "floating", start=wall(2026, 3, 1, 8), recurrence=rule)
    assert [e.name.rsplit("/", 1)[1] for e in events.instances(timed.name)] == [
        "timed_20260228T230000Z", "timed_20260301T230000Z",
    ]  # fmt: skip
    assert [e.name.rsplit("/", 1)[1] for e in events.instances(all_day.name)] == [
        "allday_20260301", "allday_20260302",
    ]  # fmt: skip
    assert [e.name.rsplit("/", 1)[1] for e in events.instances(floating.name)] == [
        "floating_20260301T080000", "floating_20260302T080000",
    ]  # fmt: skip
    instances = events.instances(floating.name)
    assert [e.start for e in instances] == [wall(2026, 3, 1, 8), wall(2026, 3, 2, 8)]
    assert instances[0].original_start == wall(2026, 3, 1, 8)
    assert events.get(f"{cal}/events/allday_20260302").start == day(2026, 3, 2)


def test_recurring_event_can_become_single_and_back(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = events.create(
        start=day(2026, 3, 2), recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=3"])
    )
    single = events.update(ev_pb.Event(name=series.name), "recurrence")
    assert single.recurrence_type == ev_pb.RECURRENCE_TYPE_SINGLE
    assert [e.name for e in events.window(utc(2026, 3, 1), utc(2026, 4, 1))] == [series.name]
    again = events.update(
        ev_pb.Event(name=series.name, recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=2"]))
    )
    assert again.recurrence_type == ev_pb.RECURRENCE_TYPE_MASTER
    assert [e.name for e in events.window(utc(2026, 3, 1), utc(2026, 4, 1))] == [
        f"{series.name}_20260302", f"{series.name}_20260303",
    ]  # fmt: skip
