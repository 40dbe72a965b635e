"""RRULE parsing, printing and validation messages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from almanac.v1 import common_pb2, event_service_pb2

from connectors.recurrence import to_proto, validate_recurrence
from connectors.recurrence.rules import (
    Freq,
    RRuleError,
    WeekdayNum,
    dateutil_message,
    format_rrule,
    parse_rrule,
)

NY = ZoneInfo("America/New_York")
START = to_proto(datetime(2026, 1, 5, 9, tzinfo=NY))  # a Monday


def test_parse_full_rule() -> None:
    spec = parse_rrule("RRULE:FREQ=MONTHLY;INTERVAL=2;BYDAY=-1FR,1MO;BYHOUR=9,17;WKST=SU;COUNT=5")
    assert spec.freq is Freq.MONTHLY
    assert spec.interval == 2
    assert spec.count == 5
    assert spec.byday == (WeekdayNum(4, -1), WeekdayNum(0, 1))
    assert spec.byhour == (9, 17)
    assert spec.wkst == 6


def test_names_and_values_are_case_insensitive() -> None:
    assert parse_rrule("rrule:freq=weekly;byday=mo,we") == parse_rrule("FREQ=WEEKLY;BYDAY=MO,WE")


@pytest.mark.parametrize(
    ("text", "until"),
    [
        ("FREQ=DAILY;UNTIL=20261231", date(2026, 12, 31)),
        ("FREQ=DAILY;UNTIL=20261231T235959", datetime(2026, 12, 31, 23, 59, 59)),
        ("FREQ=DAILY;UNTIL=20261231T235959Z", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_until_forms(text: str, until: date | datetime) -> None:
    assert parse_rrule(text).until == until


@pytest.mark.parametrize(
    "text",
    [
        "FREQ=WEEKLY",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,FR;UNTIL=20261231T000000Z;WKST=SU",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=3",
        "FREQ=DAILY;BYHOUR=9,12;BYMINUTE=0,30;BYSECOND=15;UNTIL=20260101",
        "FREQ=MONTHLY;BYMONTHDAY=-1,15;UNTIL=20260101T090000",
    ],
)
def test_format_round_trips(text: str) -> None:
    spec = parse_rrule(text)
    assert parse_rrule(format_rrule(spec)) == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty RRULE"),
        ("FREQ=DAILY;FREQ=WEEKLY", "FREQ given more than once"),
        ("INTERVAL=2", "FREQ is required"),
        ("FREQ=DAILY;COUNT=2;UNTIL=20260101", "COUNT and UNTIL must not both be given"),
        ("FREQ=DAILY;X-FOO=1", "unknown part X-FOO"),
        ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY cannot be used with FREQ=WEEKLY"),
        ("FREQ=MONTHLY;BYWEEKNO=1", "BYWEEKNO cannot be used with FREQ=MONTHLY"),
        ("FREQ=DAILY;BYYEARDAY=1", "BYYEARDAY cannot be used with FREQ=DAILY"),
        ("FREQ=WEEKLY;BYDAY=2MO", "BYDAY ordinals (like 1MO) need FREQ=MONTHLY or YEARLY"),
        ("FREQ=YEARLY;BYWEEKNO=1;BYDAY=1MO", "BYDAY ordinals cannot be combined with BYWEEKNO"),
        ("FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS needs another BYxxx part"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be a positive integer"),
        ("FREQ=DAILY;COUNT=-1", "COUNT must be a positive integer"),
        ("FREQ=DAILY;BYHOUR=24", "BYHOUR: 24 is out of range"),
        ("FREQ=DAILY;BYSECOND=60", "BYSECOND: 60 is out of range"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY: 0 is out of range"),
        ("FREQ=MONTHLY;BYDAY=6XX", "BYDAY: invalid value '6XX'"),
        ("FREQ=MONTHLY;BYDAY=54MO", "BYDAY: ordinal 54 is out of range"),
        ("FREQ=DAILY;UNTIL=20260230", "UNTIL: invalid date or date-time '20260230'"),
        ("FREQ=DAILY\nRDATE:20260101", "one RRULE value per entry"),
        ("FREQ=DAILY;;", "malformed part"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(RRuleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_rrule(text)


def test_dateutil_message_is_reported_first() -> None:
    assert dateutil_message("FREQ=FORTNIGHTLY") == "invalid 'FREQ': FORTNIGHTLY"
    assert dateutil_message("FREQ=DAILY;BYHOUR=25") == "hour must be in 0..23"
    assert dateutil_message("FREQ=WEEKLY;UNTIL=20261231T000000Z") is None
    rec = event_service_pb2.Recurrence(rrules=["FREQ=WEEKLY", "FREQ=FORTNIGHTLY"])
    assert validate_recurrence(rec, START) == [
        ("event.recurrence.rrules[1]", "invalid 'FREQ': FORTNIGHTLY")
    ]


def _violations(*rrules: str, start: common_pb2.EventTime = START) -> list[tuple[str, str]]:
    return validate_recurrence(event_service_pb2.Recurrence(rrules=rrules), start)


def test_valid_rules_pass() -> None:
    assert (
        _violations(
            "FREQ=WEEKLY;BYDAY=MO,WE",
            "RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
            "FREQ=HOURLY;COUNT=10",
            "FREQ=DAILY;UNTIL=20260301T090000",  # a local UNTIL is accepted
        )
        == []
    )


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("FREQ=MINUTELY;COUNT=5", "FREQ=MINUTELY is not supported (finest is HOURLY)"),
        ("FREQ=SECONDLY;COUNT=5", "FREQ=SECONDLY is not supported (finest is HOURLY)"),
        ("FREQ=HOURLY", "FREQ=HOURLY needs COUNT or UNTIL"),
        ("FREQ=WEEKLY;COUNT=2;UNTIL=20260101T000000Z", "COUNT and UNTIL must not both be given"),
    ],
)
def test_policy(rule: str, message: str) -> None:
    [(field, text)] = _violations(rule)
    assert field == "event.recurrence.rrules[0]"
    assert text.startswith(message)


def test_floating_series_needs_a_local_until() -> None:
    start = common_pb2.EventTime()
    f = start.floating
    f.year, f.month, f.day, f.hours = 2026, 1, 5, 9
    assert _violations("FREQ=DAILY;UNTIL=20260110T090000Z", start=start) == [
        ("event.recurrence.rrules[0]", "UNTIL of a floating series must be a local time (no Z)")
    ]
    assert _violations("FREQ=DAILY;UNTIL=20260110T090000", start=start) == []


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=DAILY;BYMONTH=4,6;BYMONTHDAY=31",
        "FREQ=DAILY;INTERVAL=7;BYDAY=TU",  # the start is a Monday
        "FREQ=DAILY;INTERVAL=14;BYDAY=WE,TH",
        "FREQ=WEEKLY;BYDAY=MO,TU;BYSETPOS=3",
        "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6",
        "FREQ=MONTHLY;BYMONTHDAY=1,2;BYDAY=MO;BYSETPOS=3",
        "FREQ=HOURLY;INTERVAL=24;BYHOUR=5;COUNT=3",
        "FREQ=YEARLY;BYYEARDAY=366;BYMONTH=1",
    ],
)
def test_rules_that_never_occur_are_rejected(rule: str) -> None:
    [(field, _)] = _violations(rule)
    assert field == "event.recurrence.rrules[0]"


def test_a_rule_that_only_hits_dst_gaps_is_accepted() -> None:
    # 02:30 on the second Sunday of March never exists in New York: every
    # instance moves to 03:30 (RFC 5545 §3.3.5, see connectors.recurrence.expand).
    assert _violations("FREQ=YEARLY;BYMONTH=3;BYDAY=2SU;BYHOUR=2;BYMINUTE=30") == []


def test_rare_but_real_rules_are_accepted() -> None:
    # Friday Feb 29 (every 28 years or so), 5th Monday of February.
    assert _violations("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=FR") == []
    assert _violations("FREQ=MONTHLY;BYMONTH=2;BYDAY=5MO") == []


def test_limits() -> None:
    rec = event_service_pb2.Recurrence(rrules=["FREQ=DAILY"] * 11)
    assert ("event.recurrence.rrules", "at most 10 allowed") in validate_recurrence(rec, START)
    rec = event_service_pb2.Recurrence(rdates=[START] * 1001, exdates=[START] * 1001)
    found = validate_recurrence(rec, START)
    assert ("event.recurrence.rdates", "at most 1000 allowed") in found
    assert ("event.recurrence.exdates", "at most 1000 allowed") in found


def test_rdates_and_exdates_must_match_the_start() -> None:
    day = common_pb2.EventTime()
    day.date.year, day.date.month, day.date.day = 2026, 1, 7
    bad_zone = common_pb2.EventTime(time_zone="Nowhere/Land")
    bad_zone.date_time.seconds = 1_767_600_000
    rec = event_service_pb2.Recurrence(rdates=[day], exdates=[START, bad_zone])
    assert validate_recurrence(rec, START, field="e.r") == [
        ("e.r.rdates[0]", "must be the same kind as the start (date_time)"),
        ("e.r.exdates[1].time_zone", "unknown time zone 'Nowhere/Land'"),
    ]


def test_simple_and_rrules_are_exclusive() -> None:
    rec = event_service_pb2.Recurrence(rrules=["FREQ=DAILY"])
    rec.simple.period = event_service_pb2.SimpleRecurrence.PERIOD_DAY
    assert validate_recurrence(rec, START) == [
        ("event.recurrence.simple", "set either simple or rrules, not both")
    ]
