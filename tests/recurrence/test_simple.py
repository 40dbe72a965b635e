"""SimpleRecurrence -> RRULE."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from almanac.v1 import common_pb2, event_service_pb2

from connectors.recurrence import expand, simple_to_rrule, to_proto, validate_simple

Simple = event_service_pb2.SimpleRecurrence
NY = ZoneInfo("America/New_York")
MONDAY_9 = to_proto(datetime(2026, 1, 5, 9, tzinfo=NY))


def _simple(period: int, **kw: object) -> event_service_pb2.SimpleRecurrence:
    s = Simple(period=period)  # type: ignore[arg-type]
    for name, value in kw.items():
        if name == "end_date":
            assert isinstance(value, date)
            s.end_date.year, s.end_date.month, s.end_date.day = value.year, value.month, value.day
        elif name == "weekdays":
            s.weekdays.extend(value)  # type: ignore[arg-type]
        else:
            setattr(s, name, value)
    return s


@pytest.mark.parametrize(
    ("simple", "rrule"),
    [
        (_simple(Simple.PERIOD_DAY), "FREQ=DAILY"),
        (_simple(Simple.PERIOD_DAY, interval=1), "FREQ=DAILY"),
        (_simple(Simple.PERIOD_WEEK), "FREQ=WEEKLY;BYDAY=MO"),
        (
            _simple(Simple.PERIOD_WEEK, interval=2, weekdays=[3, 1]),
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE",
        ),
        (_simple(Simple.PERIOD_WEEK, weekdays=[7, 7]), "FREQ=WEEKLY;BYDAY=SU"),
        (_simple(Simple.PERIOD_MONTH, count=12), "FREQ=MONTHLY;COUNT=12"),
        (_simple(Simple.PERIOD_YEAR, interval=1000), "FREQ=YEARLY;INTERVAL=1000"),
        (_simple(Simple.PERIOD_WEEKDAY), "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
        # End of the local day in New York (EDT, UTC-4), as UTC.
        (
            _simple(Simple.PERIOD_DAY, end_date=date(2026, 3, 30)),
            "FREQ=DAILY;UNTIL=20260331T035959Z",
        ),
        # The day before the spring change ends at 05:00Z (still EST).
        (
            _simple(Simple.PERIOD_DAY, end_date=date(2026, 3, 7)),
            "FREQ=DAILY;UNTIL=20260308T045959Z",
        ),
    ],
)
def test_translation(simple: event_service_pb2.SimpleRecurrence, rrule: str) -> None:
    assert validate_simple(simple, MONDAY_9) == []
    assert simple_to_rrule(simple, MONDAY_9) == rrule


def test_end_date_for_all_day_and_floating_series() -> None:
    all_day = to_proto(date(2026, 1, 5))
    floating = to_proto(datetime(2026, 1, 5, 9))
    simple = _simple(Simple.PERIOD_WEEK, end_date=date(2026, 2, 2))
    assert simple_to_rrule(simple, all_day) == "FREQ=WEEKLY;UNTIL=20260202;BYDAY=MO"
    assert simple_to_rrule(simple, floating) == "FREQ=WEEKLY;UNTIL=20260202T235959;BYDAY=MO"


@pytest.mark.parametrize(
    "start",
    [
        to_proto(datetime(2026, 1, 5, 23, 30, tzinfo=ZoneInfo("Pacific/Kiritimati"))),
        to_proto(datetime(2026, 1, 5, 0, 30, tzinfo=ZoneInfo("Pacific/Pago_Pago"))),
        to_proto(date(2026, 1, 5)),
        to_proto(datetime(2026, 1, 5, 23, 59)),
    ],
)
def test_end_date_is_inclusive(start: common_pb2.EventTime) -> None:
    rule = simple_to_rrule(_simple(Simple.PERIOD_WEEK, end_date=date(2026, 2, 2)), start)
    rec = event_service_pb2.Recurrence(rrules=[rule])
    found = expand(start, None, rec, floating_zone=ZoneInfo("Europe/Berlin")).occurrences
    starts = [o.original_start for o in found]
    assert len(starts) == 5
    last = starts[-1]
    assert (last.date() if isinstance(last, datetime) else last) == date(2026, 2, 2)


def test_weekday_defaults_to_the_local_start_day() -> None:
    # 23:30 on Monday in Kiritimati is Sunday in UTC: the local day counts.
    start = to_proto(datetime(2026, 1, 5, 23, 30, tzinfo=ZoneInfo("Pacific/Kiritimati")))
    assert start.date_time.seconds == int(datetime(2026, 1, 5, 9, 30, tzinfo=UTC).timestamp())
    assert simple_to_rrule(_simple(Simple.PERIOD_WEEK), start) == "FREQ=WEEKLY;BYDAY=MO"


@pytest.mark.parametrize(
    ("simple", "violation"),
    [
        (
            _simple(Simple.PERIOD_UNSPECIFIED),
            ("s.period", "required: one of DAY, WEEK, MONTH, YEAR, WEEKDAY"),
        ),
        (_simple(Simple.PERIOD_DAY, interval=1001), ("s.interval", "must be between 1 and 1000")),
        (_simple(Simple.PERIOD_DAY, interval=-1), ("s.interval", "must be between 1 and 1000")),
        (
            _simple(Simple.PERIOD_MONTH, weekdays=[1]),
            ("s.weekdays", "only allowed with PERIOD_WEEK"),
        ),
        (
            _simple(Simple.PERIOD_WEEKDAY, weekdays=[1]),
            ("s.weekdays", "only allowed with PERIOD_WEEK"),
        ),
        (_simple(Simple.PERIOD_WEEK, weekdays=[0]), ("s.weekdays[0]", "must be MONDAY to SUNDAY")),
        (_simple(Simple.PERIOD_DAY, count=0), ("s.count", "must be at least 1")),
        (
            _simple(Simple.PERIOD_DAY, end_date=date(2026, 1, 4)),
            ("s.end_date", "must not be before the start's date"),
        ),
    ],
)
def test_violations(simple: event_service_pb2.SimpleRecurrence, violation: tuple[str, str]) -> None:
    assert violation in validate_simple(simple, MONDAY_9, field="s")
    with pytest.raises(ValueError):
        simple_to_rrule(simple, MONDAY_9)


def test_invalid_end_date() -> None:
    simple = Simple(period=Simple.PERIOD_DAY)
    simple.end_date.year, simple.end_date.month, simple.end_date.day = 2026, 2, 30
    assert validate_simple(simple, MONDAY_9) == [
        ("event.recurrence.simple.end_date", "invalid date")
    ]


def test_count_zero_is_unset_unless_chosen() -> None:
    # proto3 oneof: count=0 set explicitly is a choice; an untouched oneof is "never ends".
    assert validate_simple(Simple(period=Simple.PERIOD_DAY), MONDAY_9) == []
