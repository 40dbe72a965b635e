"""Property tests: random series, zones, rules and windows."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from almanac.v1 import common_pb2, event_service_pb2
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from connectors.recurrence import expand, iter_occurrences, split_series, to_proto
from connectors.recurrence.rules import WEEKDAY_CODES
from connectors.recurrence.times import is_nonexistent, localize
from tests.recurrence.ics_cases import instant, nonexistent

ZONES = [
    ZoneInfo(z)
    for z in (
        "America/New_York",
        "Europe/Berlin",
        "Australia/Sydney",
        "Australia/Lord_Howe",
        "America/Santiago",
        "Asia/Kolkata",
        "Pacific/Pago_Pago",
        "Pacific/Kiritimati",
        "UTC",
    )
]
# RECURRENCE_EXAMPLES=N multiplies the work for a deeper run (default 1x).
SCALE = int(os.environ.get("RECURRENCE_EXAMPLES", "1"))
PROPS = settings(
    max_examples=150 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@dataclass(frozen=True)
class Series:
    kind: str  # "timed", "all-day", "floating"
    zone: ZoneInfo  # the series' zone (timed) or the calendar's (others)
    wall: datetime  # DTSTART wall clock
    length: timedelta
    rule: str
    window_start: datetime
    window_end: datetime
    # RDATEs and EXDATEs as offsets from DTSTART (exact for timed series,
    # whole days for all-day ones); some land on rule instances on purpose.
    rdates: tuple[timedelta, ...] = ()
    exdates: tuple[timedelta, ...] = ()

    def shifted(self, offset: timedelta) -> date | datetime:
        start = self.start_value
        if isinstance(start, datetime) and start.tzinfo is not None:
            return (start.astimezone(UTC) + offset).astimezone(self.zone)
        if not isinstance(start, datetime):
            return start + timedelta(days=offset.days)
        return start + offset

    @property
    def start_value(self) -> date | datetime:
        if self.kind == "all-day":
            return self.wall.date()
        if self.kind == "floating":
            return self.wall
        # An instant: DTSTART never falls in a gap (read as RFC 5545 §3.3.5).
        return self.wall.replace(tzinfo=self.zone).astimezone(UTC).astimezone(self.zone)

    def protos(
        self,
    ) -> tuple[common_pb2.EventTime, common_pb2.EventTime, event_service_pb2.Recurrence]:
        start = self.start_value
        end = start + (
            timedelta(days=max(1, self.length.days)) if self.kind == "all-day" else self.length
        )
        if isinstance(start, datetime) and start.tzinfo is not None:
            end = (start.astimezone(UTC) + self.length).astimezone(self.zone)
        rec = event_service_pb2.Recurrence(rrules=[self.rule])
        rec.rdates.extend(to_proto(self.shifted(o)) for o in self.rdates)
        rec.exdates.extend(to_proto(self.shifted(o)) for o in self.exdates)
        return to_proto(start), to_proto(end), rec


@st.composite
def series(
    draw: st.DrawFn, kinds: tuple[str, ...] = ("timed", "timed", "all-day", "floating")
) -> Series:
    kind = draw(st.sampled_from(kinds))
    zone = draw(st.sampled_from(ZONES))
    # Half of the starts fall in a month with DST changes somewhere (March,
    # April, September-November), at night, to hit gaps and overlaps.
    day = draw(
        st.dates(date(2015, 1, 1), date(2030, 12, 31))
        | st.builds(
            lambda y, m, d: date(y, m, min(d, 30)),
            st.integers(2015, 2030),
            st.sampled_from([3, 4, 9, 10, 11]),
            st.integers(1, 30),
        )
    )
    hour = draw(st.sampled_from([0, 1, 2, 2, 3, 9, 17, 23]) | st.integers(0, 23))
    minute = draw(st.sampled_from([0, 15, 30, 45]))
    wall = (
        datetime.combine(day, time(hour, minute))
        if kind != "all-day"
        else datetime.combine(day, time())
    )
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY"]))
    parts = [f"FREQ={freq}"]
    interval = draw(st.integers(1, 4))
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    if freq in ("DAILY", "WEEKLY") and draw(st.booleans()):
        days = draw(st.sets(st.sampled_from(WEEKDAY_CODES), min_size=1, max_size=7))
        if freq == "DAILY" and interval % 7 == 0:
            days.add(WEEKDAY_CODES[wall.weekday()])
        parts.append("BYDAY=" + ",".join(sorted(days, key=WEEKDAY_CODES.index)))
    if freq == "MONTHLY":
        choice = draw(
            st.sampled_from(
                [
                    "",
                    "BYMONTHDAY=31",
                    "BYMONTHDAY=-1",
                    "BYMONTHDAY=29,30",
                    "BYDAY=2TU",
                    "BYDAY=-1FR",
                    "BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
                ]
            )
        )
        if choice:
            parts.append(choice)
    if freq == "WEEKLY" and draw(st.booleans()):
        parts.append("WKST=" + draw(st.sampled_from(WEEKDAY_CODES)))
    end = draw(st.sampled_from(["none", "count", "until"]))
    if end == "count":
        parts.append(f"COUNT={draw(st.integers(1, 60))}")
    elif end == "until":
        last = wall + timedelta(days=draw(st.integers(0, 900)), hours=draw(st.integers(0, 23)))
        if kind == "all-day":
            parts.append(f"UNTIL={last:%Y%m%d}")
        elif kind == "floating":
            parts.append(f"UNTIL={last:%Y%m%dT%H%M%S}")
        else:
            parts.append(f"UNTIL={last.replace(tzinfo=zone).astimezone(UTC):%Y%m%dT%H%M%SZ}")
    length = draw(
        st.sampled_from(
            [
                timedelta(0),
                timedelta(minutes=30),
                timedelta(hours=1),
                timedelta(hours=5),
                timedelta(days=2),
            ]
        )
    )
    offset = draw(st.integers(-30, 60) | st.integers(-60, 400) | st.integers(-60, 2000))
    window_start = datetime.combine(day, time(), tzinfo=UTC) + timedelta(
        days=offset, hours=draw(st.integers(0, 23))
    )
    window_end = window_start + timedelta(
        days=draw(st.integers(1, 90)), hours=draw(st.integers(0, 23))
    )
    # Offsets that often hit rule instances (whole days or weeks) or not.
    offsets = st.builds(
        lambda d, h: timedelta(days=d, hours=h),
        st.integers(-10, 400),
        st.sampled_from([0, 0, 0, 5]),
    )
    rdates = tuple(draw(st.lists(offsets, max_size=3)))
    exdates = tuple(draw(st.lists(offsets, max_size=3)))
    return Series(
        kind, zone, wall, length, ";".join(parts), window_start, window_end, rdates, exdates
    )


def _nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    sundays = [
        first + timedelta(days=d) for d in range(31) if (first + timedelta(days=d)).weekday() == 6
    ]
    return [d for d in sundays if d.month == month][n]


# Spring-forward days and gap lengths, written out from the zones' rules
# (valid 2016-2030), independently of connectors.recurrence.zones.
GAPS = {
    "America/New_York": (lambda y: _nth_sunday(y, 3, 1), 60),
    "Europe/Berlin": (lambda y: _nth_sunday(y, 3, -1), 60),
    "Australia/Sydney": (lambda y: _nth_sunday(y, 10, 0), 60),
    "Australia/Lord_Howe": (lambda y: _nth_sunday(y, 10, 0), 30),
}


@st.composite
def gap_series(draw: st.DrawFn) -> Series:
    """A timed series at a wall time that does not exist on one of its days."""
    key = draw(st.sampled_from(sorted(GAPS)))
    day_of, minutes = GAPS[key]
    gap_day = day_of(draw(st.integers(2016, 2030)))
    wall = datetime.combine(
        gap_day - timedelta(days=draw(st.integers(0, 20))), time(2)
    ) + timedelta(minutes=draw(st.integers(0, minutes - 1)))
    freq = draw(st.sampled_from(["DAILY", "WEEKLY;BYDAY=SU", "WEEKLY;BYDAY=SA,SU,MO"]))
    end = draw(
        st.sampled_from(["", ";COUNT=30", f";UNTIL={gap_day + timedelta(days=9):%Y%m%d}T000000Z"])
    )
    window_start = datetime.combine(
        gap_day - timedelta(days=draw(st.integers(0, 25))), time(), tzinfo=UTC
    )
    window_end = window_start + timedelta(days=draw(st.integers(1, 40)))
    length = draw(st.sampled_from([timedelta(minutes=20), timedelta(hours=1), timedelta(hours=3)]))
    return Series(
        "timed", ZoneInfo(key), wall, length, f"FREQ={freq}{end}", window_start, window_end
    )


ANY_SERIES = st.one_of(series(), gap_series())


def _expand_window(s: Series):
    start, end, rec = s.protos()
    return expand(
        start, end, rec, window_start=s.window_start, window_end=s.window_end, floating_zone=s.zone
    ).occurrences


def _in_window(s_utc: datetime, e_utc: datetime, ws: datetime, we: datetime) -> bool:
    return s_utc < we and (e_utc > ws or ws <= s_utc == e_utc)


@PROPS
@given(ANY_SERIES)
def test_window_jump_equals_walking_from_the_start(s: Series) -> None:
    """Indices from arithmetic (jumping to the window) equal indices from
    walking every instance since DTSTART."""
    start, end, rec = s.protos()
    windowed = _expand_window(s)
    walked = tuple(
        o
        for o in iter_occurrences(start, end, rec, window_end=s.window_end, floating_zone=s.zone)
        if _in_window(o.start_utc, o.end_utc, s.window_start, s.window_end)
    )
    assert windowed == walked


@PROPS
@given(ANY_SERIES)
def test_invariants(s: Series) -> None:
    found = _expand_window(s)
    event("instances in the window" if found else "empty window")
    indices = [o.index for o in found]
    assert indices == sorted(set(indices))
    assert len({o.instance_id_suffix for o in found}) == len(found)
    rdates = {s.shifted(offset) for offset in s.rdates}
    for o in found:
        assert _in_window(o.start_utc, o.end_utc, s.window_start, s.window_end)
        assert o.end_utc >= o.start_utc
        start = o.original_start
        if start in rdates:
            continue  # an RDATE has its own time of day
        if s.kind == "all-day":
            assert type(start) is date
        elif s.kind == "floating":
            assert isinstance(start, datetime) and start.tzinfo is None
            assert start.time() == s.wall.time()
        else:
            assert isinstance(start, datetime) and start.tzinfo == s.zone
            first = s.start_value
            assert isinstance(first, datetime)
            # Every instance keeps the wall clock of DTSTART (no BYHOUR here);
            # those that cannot move forward by the gap (RFC 5545 §3.3.5).
            wall = datetime.combine(start.date(), first.time())
            if is_nonexistent(wall, s.zone):
                assert start == localize(wall, s.zone) and start.time() != first.time()
            else:
                assert start.time() == first.time()
            assert o.end_utc - o.start_utc == s.length


@PROPS
@given(ANY_SERIES, st.data())
def test_split_at_any_instance_keeps_the_union(s: Series, data: st.DataObject) -> None:
    start, end, rec = s.protos()
    window_end = datetime.combine(s.wall.date(), time(), tzinfo=UTC) + timedelta(days=500)
    original = expand(
        start, end, rec, window_end=window_end, floating_zone=s.zone, include_excluded=True
    ).occurrences
    cut = data.draw(st.sampled_from(original))
    # With RDATEs before DTSTART, cuts up to DTSTART are refused (documented).
    first = s.start_value
    assume((cut.index == 1 and cut.original_start == first) or cut.original_start > first)  # type: ignore[operator]
    try:
        split = split_series(start, end, rec, cut.original_start)
    except ValueError as exc:
        # Documented: an RDATE-only cut in a week/month/... that the rule's
        # INTERVAL skips cannot start a new series with the same rule.
        rdates = {s.shifted(offset) for offset in s.rdates}
        assert "INTERVAL" in str(exc) and "INTERVAL=1;" not in s.rule + ";"
        assert cut.original_start in rdates
        return

    def keys(first: common_pb2.EventTime, r: event_service_pb2.Recurrence | None) -> list[str]:
        found = expand(
            first, None, r, window_end=window_end, floating_zone=s.zone, include_excluded=True
        )
        return [o.instance_id_suffix for o in found.occurrences]

    before = keys(start, split.before) if split.before is not None else []
    after = keys(split.new_start, split.after)
    assert before + after == [o.instance_id_suffix for o in original]
    assert split.count_before == cut.index - 1


def _vevent(s: Series) -> icalendar.Calendar:
    start_value = s.start_value
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//t//t//EN",
        "BEGIN:VEVENT",
        "UID:p",
        "DTSTAMP:20260101T000000Z",
    ]
    if s.kind == "all-day":
        lines += [
            f"DTSTART;VALUE=DATE:{start_value:%Y%m%d}",
            f"DTEND;VALUE=DATE:{start_value + timedelta(days=max(1, s.length.days)):%Y%m%d}",
        ]
    elif s.kind == "floating":
        lines += [
            f"DTSTART:{start_value:%Y%m%dT%H%M%S}",
            f"DTEND:{start_value + s.length:%Y%m%dT%H%M%S}",
        ]
    else:
        assert isinstance(start_value, datetime)
        end_value = (start_value.astimezone(UTC) + s.length).astimezone(s.zone)
        lines += [
            f"DTSTART;TZID={s.zone.key}:{start_value:%Y%m%dT%H%M%S}",
            f"DTEND;TZID={s.zone.key}:{end_value:%Y%m%dT%H%M%S}",
        ]
    for name, offsets in (("RDATE", s.rdates), ("EXDATE", s.exdates)):
        for offset in offsets:
            value = s.shifted(offset)
            if not isinstance(value, datetime):
                lines.append(f"{name};VALUE=DATE:{value:%Y%m%d}")
            elif value.tzinfo is None:
                lines.append(f"{name}:{value:%Y%m%dT%H%M%S}")
            else:
                lines.append(f"{name}:{value.astimezone(UTC):%Y%m%dT%H%M%SZ}")
    lines += [f"RRULE:{s.rule}", "END:VEVENT", "END:VCALENDAR"]
    return icalendar.Calendar.from_ical("\r\n".join(lines))


@settings(max_examples=120 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_SERIES)
def test_random_series_match_recurring_ical_events(s: Series) -> None:
    """Differential test against the independent expander, with the two
    documented RFC readings applied to its output (see ics_cases.rie_spans)."""
    assume("BYSETPOS" not in s.rule)  # dateutil's first-week BYSETPOS is shared by both
    cal = _vevent(s)
    slack = timedelta(days=3)
    expected: set[tuple[datetime, datetime]] = set()
    for comp in recurring_ical_events.of(cal).between(s.window_start - slack, s.window_end + slack):
        first, last = comp["DTSTART"].dt, comp["DTEND"].dt
        if nonexistent(first):
            event("an instance in a DST gap")  # shifted by both (RFC 5545 §3.3.5)
        s_utc = instant(first, s.zone)
        e_utc = instant(last, s.zone)
        if isinstance(first, datetime):
            e_utc = s_utc + s.length  # RFC 5545 §3.8.5.3 exact duration
        if _in_window(s_utc, e_utc, s.window_start, s.window_end):
            expected.add((s_utc, e_utc))
    got = [(o.start_utc, o.end_utc) for o in _expand_window(s)]
    event("instances in the window" if got else "empty window")
    assert set(got) == expected
    assert len(got) == len(expected)
