"""The time model: EventTime <-> Python values and their validation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from almanac.v1 import common_pb2

from connectors.recurrence.times import (
    TimeKind,
    from_proto,
    get_zone,
    is_nonexistent,
    kind_of,
    localize,
    proto_kind,
    to_proto,
    to_utc,
    validate_event_time,
    validate_start_end,
)

NY = ZoneInfo("America/New_York")
PAGO = ZoneInfo("Pacific/Pago_Pago")
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")


def _date(y: int, m: int, d: int) -> common_pb2.EventTime:
    t = common_pb2.EventTime()
    t.date.year, t.date.month, t.date.day = y, m, d
    return t


def _floating(y: int, m: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> common_pb2.EventTime:
    t = common_pb2.EventTime()
    f = t.floating
    f.year, f.month, f.day, f.hours, f.minutes, f.seconds = y, m, d, h, mi, s
    return t


def _timed(instant: datetime, zone: str = "") -> common_pb2.EventTime:
    t = common_pb2.EventTime(time_zone=zone)
    t.date_time.seconds = int(instant.timestamp())
    return t


@pytest.mark.parametrize(
    "value",
    [
        date(2026, 2, 28),
        datetime(2026, 3, 8, 3, 30, tzinfo=NY),
        datetime(2026, 1, 1, 12, tzinfo=UTC),
        datetime(2026, 7, 4, 9, 15, 30),
        datetime(2026, 7, 4, 9, 15, 30, 250_000),
    ],
)
def test_round_trip(value: date | datetime) -> None:
    back = from_proto(to_proto(value))
    assert back == value
    assert kind_of(back) is kind_of(value)
    assert type(back) is type(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        assert getattr(back, "tzinfo", None) is not None
        assert back.utcoffset() == value.utcoffset()


def test_kinds() -> None:
    assert kind_of(date(2026, 1, 1)) is TimeKind.ALL_DAY
    assert kind_of(datetime(2026, 1, 1)) is TimeKind.FLOATING
    assert kind_of(datetime(2026, 1, 1, tzinfo=UTC)) is TimeKind.TIMED
    assert proto_kind(common_pb2.EventTime()) is None
    assert proto_kind(_date(2026, 1, 1)) is TimeKind.ALL_DAY


def test_timed_value_is_the_instant_shown_in_its_zone() -> None:
    instant = datetime(2026, 7, 1, 13, 0, tzinfo=UTC)
    value = from_proto(_timed(instant, "America/New_York"))
    assert isinstance(value, datetime)
    assert value == instant
    assert (value.hour, value.tzinfo) == (9, NY)


def test_timed_without_zone_uses_the_default() -> None:
    instant = datetime(2026, 7, 1, 13, 0, tzinfo=UTC)
    default = from_proto(_timed(instant))
    assert isinstance(default, datetime) and default == instant
    assert default.tzinfo == ZoneInfo("UTC")
    value = from_proto(_timed(instant), default_zone="Europe/Berlin")
    assert isinstance(value, datetime) and value.hour == 15


def test_to_proto_refuses_fixed_offsets() -> None:
    from datetime import timedelta, timezone

    with pytest.raises(ValueError, match="IANA zone"):
        to_proto(datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2))))


def test_get_zone() -> None:
    assert get_zone("Europe/Berlin") is ZoneInfo("Europe/Berlin")
    for bad in ("Mars/Olympus_Mons", "", " UTC", "../../etc/passwd", "/etc/localtime"):
        with pytest.raises(ValueError, match="unknown time zone"):
            get_zone(bad)


def test_localize_follows_rfc5545_3_3_5() -> None:
    # Nonexistent 02:30 -> the offset before the gap (EST) -> 03:30 EDT.
    gap = localize(datetime(2026, 3, 8, 2, 30), NY)
    assert gap.astimezone(UTC) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert (gap.hour, gap.minute) == (3, 30)
    # Ambiguous 01:30 -> the first occurrence (EDT).
    overlap = localize(datetime(2026, 11, 1, 1, 30), NY)
    assert overlap.astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert is_nonexistent(datetime(2026, 3, 8, 2, 30), NY)
    assert not is_nonexistent(datetime(2026, 3, 8, 3, 0), NY)
    assert not is_nonexistent(datetime(2026, 11, 1, 1, 30), NY)
    assert not is_nonexistent(datetime(2026, 3, 8, 2, 30), UTC)


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        (PAGO, datetime(2026, 1, 5, 11, tzinfo=UTC)),  # UTC-11
        (KIRITIMATI, datetime(2026, 1, 4, 10, tzinfo=UTC)),  # UTC+14
    ],
)
def test_all_day_starts_at_local_midnight(zone: ZoneInfo, expected: datetime) -> None:
    assert to_utc(date(2026, 1, 5), zone) == expected
    assert to_utc(datetime(2026, 1, 5), zone) == expected  # floating midnight too


def test_validate_event_time_accepts_each_kind() -> None:
    assert validate_event_time(_date(2024, 2, 29), "event.start") == []
    assert validate_event_time(_floating(2026, 1, 1, 23, 59, 59), "event.start") == []
    assert (
        validate_event_time(_timed(datetime(2026, 1, 1, tzinfo=UTC), "Asia/Kolkata"), "e.s") == []
    )


@pytest.mark.parametrize(
    ("value", "field", "message"),
    [
        (common_pb2.EventTime(), "event.start", "one of date, date_time or floating is required"),
        (_date(2026, 2, 30), "event.start.date", "invalid date 2026-02-30"),
        (_date(2025, 2, 29), "event.start.date", "invalid date 2025-02-29"),
        (_floating(2026, 13, 1), "event.start.floating", "invalid date 2026-13-01"),
        (_floating(2026, 1, 1, 24), "event.start.floating", "invalid time 24:00:00"),
        (_floating(2026, 1, 1, 12, 0, 60), "event.start.floating", "invalid time 12:00:60"),
        (
            _timed(datetime(2026, 1, 1, tzinfo=UTC), "Mars/Base"),
            "event.start.time_zone",
            "unknown time zone 'Mars/Base'",
        ),
    ],
)
def test_validate_event_time_violations(
    value: common_pb2.EventTime, field: str, message: str
) -> None:
    assert (field, message) in validate_event_time(value, "event.start")


def test_time_zone_must_be_empty_for_dates_and_floating_times() -> None:
    d = _date(2026, 1, 1)
    d.time_zone = "Europe/Berlin"
    assert validate_event_time(d, "x") == [("x.time_zone", "must be empty for an all-day date")]
    f = _floating(2026, 1, 1, 9)
    f.time_zone = "Europe/Berlin"
    assert ("x.time_zone", "must be empty for a floating time") in validate_event_time(f, "x")
    with pytest.raises(ValueError):
        from_proto(d)


def test_floating_must_not_carry_an_offset() -> None:
    f = _floating(2026, 1, 1, 9)
    f.floating.utc_offset.seconds = 3600
    assert validate_event_time(f, "x") == [
        ("x.floating", "a floating time must not carry a UTC offset or time zone")
    ]
    with pytest.raises(ValueError):
        from_proto(f)


def test_timestamp_range() -> None:
    t = common_pb2.EventTime()
    t.date_time.seconds = 253_402_300_800  # 10000-01-01
    assert validate_event_time(t, "x") == [
        ("x.date_time", "must be between 0001-01-01 and 9999-12-31")
    ]


def test_validate_start_end() -> None:
    start = _timed(datetime(2026, 1, 1, 9, tzinfo=UTC), "UTC")
    assert validate_start_end(start, None) == []
    assert validate_start_end(start, start) == []  # zero length is allowed
    earlier = _timed(datetime(2026, 1, 1, 8, tzinfo=UTC), "Europe/Berlin")
    assert validate_start_end(start, earlier) == [("event.end", "must not be before start")]
    assert validate_start_end(start, _date(2026, 1, 2)) == [
        ("event.end", "must be the same kind as start (date_time)")
    ]
    assert validate_start_end(_date(2026, 1, 2), _date(2026, 1, 1)) == [
        ("event.end", "must not be before start")
    ]
    assert validate_start_end(_floating(2026, 1, 1, 9), _floating(2026, 1, 1, 8)) == [
        ("event.end", "must not be before start")
    ]
    # A flight: different zones, compared as instants.
    landing = _timed(datetime(2026, 1, 1, 10, tzinfo=UTC), "Asia/Tokyo")
    assert validate_start_end(start, landing) == []
    # Each side's own problems are reported with its path.
    bad = validate_start_end(common_pb2.EventTime(), _date(2026, 2, 30), field="ev")
    assert [f for f, _ in bad] == ["ev.start", "ev.end.date"]
