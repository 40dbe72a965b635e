"""RRULE <-> patternedRecurrence, table-driven, for every Graph pattern and range.

Each row maps an RRULE to the pattern Graph gets, reads that pattern back to
the canonical RRULE, and checks that Graph's expansion of the pattern (the
fake's, written from Graph's documentation straight to dateutil arguments)
lists the same instants as Almanac's own expansion of the RRULE: across DST
changes in Windows zones, the spring-forward gap included.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb

from connectors.errors import InvalidArgument
from connectors.msgraph import recurrence
from connectors.msgraph.zones import iana_to_windows, windows_to_iana
from connectors.recurrence import expand, to_proto
from tests.connectors.graph.expand import instant, occurrences, zone_of

BERLIN, SEATTLE, SYDNEY = "Europe/Berlin", "America/Los_Angeles", "Australia/Sydney"

# (rrule, zone, start wall time, pattern members expected, range members, read back)
ROWS: list[tuple[str, str, datetime | date, dict[str, Any], dict[str, Any], str]] = [
    ("FREQ=DAILY;COUNT=10", BERLIN, datetime(2026, 3, 25, 9),
     {"type": "daily", "interval": 1}, {"type": "numbered", "numberOfOccurrences": 10},
     "FREQ=DAILY;COUNT=10"),
    ("FREQ=DAILY;INTERVAL=3;UNTIL=20261031T225959Z", BERLIN, datetime(2026, 10, 20, 9),
     {"type": "daily", "interval": 3}, {"type": "endDate", "endDate": "2026-10-31"},
     "FREQ=DAILY;INTERVAL=3;UNTIL=20261031T225959Z"),
    ("FREQ=DAILY;COUNT=4", BERLIN, datetime(2026, 3, 27, 2, 30),  # 02:30 on 03-29 does not exist
     {"type": "daily"}, {"type": "numbered"}, "FREQ=DAILY;COUNT=4"),
    ("FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=12", SEATTLE, datetime(2026, 3, 2, 8),
     {"type": "weekly", "daysOfWeek": ["monday", "wednesday", "friday"]},
     {"type": "numbered"}, "FREQ=WEEKLY;COUNT=12;BYDAY=MO,WE,FR"),
    ("FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=TU,SU;COUNT=8", SEATTLE, datetime(2026, 10, 25, 17),
     {"type": "weekly", "interval": 2, "firstDayOfWeek": "sunday"}, {"type": "numbered"},
     "FREQ=WEEKLY;INTERVAL=2;COUNT=8;BYDAY=TU,SU;WKST=SU"),
    ("FREQ=WEEKLY", BERLIN, datetime(2026, 10, 5, 9),
     {"type": "weekly", "daysOfWeek": ["monday"]}, {"type": "noEnd"}, "FREQ=WEEKLY"),
    ("FREQ=MONTHLY;BYMONTHDAY=31;COUNT=6", SYDNEY, datetime(2026, 1, 31, 9),
     {"type": "absoluteMonthly", "dayOfMonth": 31}, {"type": "numbered"},
     "FREQ=MONTHLY;COUNT=6"),
    ("FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=15;COUNT=6", SYDNEY, datetime(2026, 1, 15, 9),
     {"type": "absoluteMonthly", "dayOfMonth": 15, "interval": 2}, {"type": "numbered"},
     "FREQ=MONTHLY;INTERVAL=2;COUNT=6"),
    ("FREQ=MONTHLY;BYDAY=-1FR;COUNT=8", BERLIN, datetime(2026, 1, 30, 16),
     {"type": "relativeMonthly", "index": "last", "daysOfWeek": ["friday"]},
     {"type": "numbered"}, "FREQ=MONTHLY;COUNT=8;BYDAY=-1FR"),
    ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=2;COUNT=12", SEATTLE, datetime(2026, 1, 2, 9),
     {"type": "relativeMonthly", "index": "second"}, {"type": "numbered"},
     "FREQ=MONTHLY;COUNT=12;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=2"),
    ("FREQ=YEARLY;COUNT=3", BERLIN, date(2026, 2, 28),
     {"type": "absoluteYearly", "month": 2, "dayOfMonth": 28}, {"type": "numbered"},
     "FREQ=YEARLY;COUNT=3"),
    ("FREQ=YEARLY;BYMONTH=7;BYMONTHDAY=4;UNTIL=20300704", BERLIN, date(2026, 7, 4),
     {"type": "absoluteYearly", "month": 7, "dayOfMonth": 4},
     {"type": "endDate", "endDate": "2030-07-04"}, "FREQ=YEARLY;UNTIL=20300704"),
    ("FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU;COUNT=4", BERLIN, datetime(2026, 3, 29, 1, 30),
     {"type": "relativeYearly", "month": 3, "index": "last", "daysOfWeek": ["sunday"]},
     {"type": "numbered"}, "FREQ=YEARLY;COUNT=4;BYMONTH=3;BYDAY=-1SU"),
    ("FREQ=YEARLY;BYMONTH=11;BYDAY=1SU;COUNT=3", SEATTLE, datetime(2026, 11, 1, 1, 30),
     {"type": "relativeYearly", "month": 11, "index": "first"}, {"type": "numbered"},
     "FREQ=YEARLY;COUNT=3;BYMONTH=11;BYDAY=1SU"),
]  # fmt: skip


def _start(zone: str, wall: datetime | date) -> datetime | date:
    return wall.replace(tzinfo=ZoneInfo(zone)) if isinstance(wall, datetime) else wall


def _almanac(rrule: str, start: datetime | date) -> list[datetime]:
    begin = to_proto(start)
    got = expand(begin, None, ev_pb.Recurrence(rrules=[rrule]), limit=15)
    return [o.start_utc for o in got.occurrences]


def _graph(pattern: dict[str, Any], zone: str, start: datetime | date) -> list[datetime]:
    wall = start if isinstance(start, datetime) else datetime.combine(start, datetime.min.time())
    walls = occurrences(pattern, wall.replace(tzinfo=None), not isinstance(start, datetime),
                        datetime(2040, 1, 1))  # fmt: skip
    tz = zone_of(zone) if isinstance(start, datetime) else ZoneInfo("UTC")
    return [instant(w, tz) for w in walls[:15]]


@pytest.mark.parametrize(("rrule", "zone", "wall", "pattern", "rng", "back"), ROWS,
                         ids=[r[0] for r in ROWS])  # fmt: skip
def test_rrule_maps_to_the_pattern_graph_expands_the_same(
    rrule: str, zone: str, wall: datetime | date, pattern: dict[str, Any],
    rng: dict[str, Any], back: str,
) -> None:  # fmt: skip
    start = _start(zone, wall)
    windows = iana_to_windows(zone)
    assert windows is not None and windows_to_iana(windows) == zone
    graph = recurrence.to_graph([rrule], False, start, windows)
    assert pattern.items() <= graph["pattern"].items()
    assert rng.items() <= graph["range"].items()
    assert graph["range"]["startDate"] == (start.date() if isinstance(start, datetime)
                                           else start).isoformat()  # fmt: skip
    assert recurrence.from_graph(graph, start) == back
    expected = _almanac(rrule, start)
    assert expected, "the row must have instances"
    assert _graph(graph, windows, start) == expected


def test_dst_keeps_the_wall_clock_time_in_a_windows_zone() -> None:
    """09:00 W. Europe Standard Time is 08:00 UTC in winter and 07:00 in summer."""
    start = datetime(2026, 3, 27, 9, tzinfo=ZoneInfo(BERLIN))
    graph = recurrence.to_graph(["FREQ=DAILY;COUNT=4"], False, start, "W. Europe Standard Time")
    hours = [t.hour for t in _graph(graph, "W. Europe Standard Time", start)]
    assert hours == [8, 8, 7, 7]


def test_the_gap_moves_forward_like_almanac() -> None:
    start = datetime(2026, 3, 28, 2, 30, tzinfo=ZoneInfo(BERLIN))
    graph = recurrence.to_graph(["FREQ=DAILY;COUNT=3"], False, start, "W. Europe Standard Time")
    got = [t.astimezone(ZoneInfo(BERLIN)).strftime("%d %H:%M") for t in
           _graph(graph, "W. Europe Standard Time", start)]  # fmt: skip
    assert got == ["28 02:30", "29 03:30", "30 02:30"]


def test_until_with_a_time_of_day_keeps_its_meaning() -> None:
    """UNTIL before the day's instance ends the series the day before."""
    start = datetime(2026, 11, 2, 9, tzinfo=ZoneInfo(BERLIN))
    early = recurrence.to_graph(["FREQ=DAILY;UNTIL=20261105T070000Z"], False, start, "x")
    late = recurrence.to_graph(["FREQ=DAILY;UNTIL=20261105T080000Z"], False, start, "x")
    assert early["range"]["endDate"] == "2026-11-04"
    assert late["range"]["endDate"] == "2026-11-05"


REJECTED = [
    (["FREQ=HOURLY;COUNT=3"], False, "FREQ=HOURLY"),
    (["FREQ=MINUTELY"], False, "FREQ=MINUTELY"),
    (["FREQ=DAILY;BYHOUR=9,17"], False, "BYHOUR"),
    (["FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-2"], False, "BYSETPOS=-2"),
    (["FREQ=MONTHLY;BYDAY=MO;BYSETPOS=5"], False, "BYSETPOS=5"),
    (["FREQ=MONTHLY;BYDAY=1MO,3MO"], False, "BYDAY=1MO,3MO"),
    (["FREQ=MONTHLY;BYDAY=MO"], False, "BYDAY without an ordinal"),
    (["FREQ=MONTHLY;BYMONTHDAY=-1"], False, "BYMONTHDAY=-1"),
    (["FREQ=MONTHLY;BYMONTHDAY=1,15"], False, "BYMONTHDAY=1,15"),
    (["FREQ=YEARLY;BYMONTH=1,7"], False, "BYMONTH=1,7"),
    (["FREQ=YEARLY;BYYEARDAY=100"], False, "BYYEARDAY"),
    (["FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO"], False, "BYWEEKNO"),
    (["FREQ=WEEKLY;BYMONTH=3"], False, "BYMONTH with FREQ=WEEKLY"),
    (["FREQ=DAILY", "FREQ=WEEKLY"], False, "several RRULEs"),
    (["FREQ=DAILY"], True, "RDATE"),
]


@pytest.mark.parametrize(("rrules", "rdates", "part"), REJECTED, ids=[r[2] for r in REJECTED])
def test_what_graph_cannot_express_is_rejected_naming_the_part(
    rrules: list[str], rdates: bool, part: str
) -> None:
    start = datetime(2026, 11, 2, 9, tzinfo=ZoneInfo(BERLIN))
    with pytest.raises(InvalidArgument) as caught:
        recurrence.to_graph(rrules, rdates, start, "W. Europe Standard Time")
    assert caught.value.reason == "RECURRENCE_NOT_SUPPORTED_BY_UPSTREAM"
    (field, text), *_ = caught.value.violations
    assert field.startswith("event.recurrence")
    assert part in text


def test_a_start_off_the_rule_is_rejected() -> None:
    """RFC 5545 makes DTSTART an instance anyway; Graph would drop it."""
    start = datetime(2026, 1, 20, 9, tzinfo=ZoneInfo(SYDNEY))
    with pytest.raises(InvalidArgument) as caught:
        recurrence.to_graph(["FREQ=MONTHLY;BYMONTHDAY=15"], False, start, "x")
    assert caught.value.violations[0][0] == "event.start"


def test_every_pattern_type_is_covered() -> None:
    kinds = {row[3]["type"] for row in ROWS}
    assert kinds == {"daily", "weekly", "absoluteMonthly", "relativeMonthly",
                     "absoluteYearly", "relativeYearly"}  # fmt: skip
    assert {row[4]["type"] for row in ROWS} == {"numbered", "endDate", "noEnd"}


def test_utc_instant_sanity() -> None:
    assert instant(datetime(2026, 7, 1, 9), zone_of("W. Europe Standard Time")) == datetime(
        2026, 7, 1, 7, tzinfo=UTC
    )
    assert common_pb2.EventTime  # the proto module the mapping speaks
