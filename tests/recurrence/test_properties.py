"""Property tests: random series, zones, rules and windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from almanac.v1 import common_pb2, event_service_pb2
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from connectors.recurrence import expand, iter_occurrences, split_series, to_proto
from connectors.recurrence.rules import WEEKDAY_CODES, parse_rrule
from connectors.recurrence.sources import raw_source
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
PROPS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
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

    @property
    def start_value(self) -> date | datetime:
        if self.kind == "all-day":
            return self.wall.date()
        if self.kind == "floating":
            return self.wall
        # An instant: DTSTART never falls in a gap (read as RFC 5545 §3.3.5).
        return self.wall.replace(tzinfo=self.zone).astimezone(UTC).astimezone(self.zone)

    def protos(self) -> tuple[common_pb2.EventTime, common_pb2.EventTime, event_service_pb2.Recurrence]:
        start = self.start_value
        end = start + (timedelta(days=max(1, self.length.days)) if self.kind == "all-day" else self.length)
        if isinstance(start, datetime) and start.tzinfo is not None:
            end = (start.astimezone(UTC) + self.length).astimezone(self.zone)
        return to_proto(start), to_proto(end), event_service_pb2.Recurrence(rrules=[self.rule])


@st.composite
def series(draw: st.DrawFn, kinds: tuple[str, ...] = ("timed", "timed", "all-day", "floating")) -> Series:
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
    wall = datetime.combine(day, time(hour, minute)) if kind != "all-day" else datetime.combine(day, time())
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
        choice = draw(st.sampled_from(["", "BYMONTHDAY=31", "BYMONTHDAY=-1", "BYMONTHDAY=29,30",
                                       "BYDAY=2TU", "BYDAY=-1FR", "BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"]))
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
    length = draw(st.sampled_from([timedelta(0), timedelta(minutes=30), timedelta(hours=1),
                                   timedelta(hours=5), timedelta(days=2)]))
    offset = draw(st.integers(-60, 400) | st.integers(-60, 2000))
    window_start = datetime.combine(day, time(), tzinfo=UTC) + timedelta(days=offset, hours=draw(st.integers(0, 23)))
    window_end = window_start + timedelta(days=draw(st.integers(1, 90)), hours=draw(st.integers(0, 23)))
    return Series(kind, zone, wall, length, ";".join(parts), window_start, window_end)


def _expand_window(s: Series):
    start, end, rec = s.protos()
    return expand(start, end, rec, window_start=s.window_start, window_end=s.window_end,
                  floating_zone=s.zone).occurrences


def _in_window(s_utc: datetime, e_utc: datetime, ws: datetime, we: datetime) -> bool:
    return s_utc < we and (e_utc > ws or ws <= s_utc == e_utc)


@PROPS
@given(series())
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
@given(series())
def test_invariants(s: Series) -> None:
    found = _expand_window(s)
    event("instances in the window" if found else "empty window")
    indices = [o.index for o in found]
    assert indices == sorted(set(indices))
    assert len({o.instance_id_suffix for o in found}) == len(found)
    for o in found:
        assert _in_window(o.start_utc, o.end_utc, s.window_start, s.window_end)
        assert o.end_utc >= o.start_utc
        start = o.original_start
        if s.kind == "all-day":
            assert type(start) is date
        elif s.kind == "floating":
            assert isinstance(start, datetime) and start.tzinfo is None
            assert start.time() == s.wall.time()
        else:
            assert isinstance(start, datetime) and start.tzinfo == s.zone
            first = s.start_value
            # Every instance keeps the wall clock of DTSTART (no BYHOUR here);
            # those that cannot were skipped, not moved.
            assert start.replace(tzinfo=None).time() == first.replace(tzinfo=None).time()  # type: ignore[union-attr]
            assert o.end_utc - o.start_utc == s.length


@PROPS
@given(series(), st.data())
def test_split_at_any_instance_keeps_the_union(s: Series, data: st.DataObject) -> None:
    start, end, rec = s.protos()
    window_end = datetime.combine(s.wall.date(), time(), tzinfo=UTC) + timedelta(days=500)
    original = expand(start, end, rec, window_end=window_end, floating_zone=s.zone,
                      include_excluded=True).occurrences
    cut = data.draw(st.sampled_from(original))
    split = split_series(start, end, rec, cut.original_start)

    def keys(first: common_pb2.EventTime, r: event_service_pb2.Recurrence | None) -> list[str]:
        found = expand(first, None, r, window_end=window_end, floating_zone=s.zone,
                       include_excluded=True)
        return [o.instance_id_suffix for o in found.occurrences]

    before = keys(start, split.before) if split.before is not None else []
    after = keys(split.new_start, split.after)
    assert before + after == [o.instance_id_suffix for o in original]
    assert split.count_before == cut.index - 1


@st.composite
def periodic_rules(draw: st.DrawFn) -> str:
    freq = draw(st.sampled_from(["HOURLY", "DAILY", "WEEKLY"]))
    parts = [f"FREQ={freq}", f"INTERVAL={draw(st.integers(1, 10))}"]
    if freq == "HOURLY":
        return ";".join(parts)
    if draw(st.booleans()):
        days = draw(st.sets(st.sampled_from(WEEKDAY_CODES), min_size=1))
        parts.append("BYDAY=" + ",".join(days))
    for name, values in (("BYHOUR", range(24)), ("BYMINUTE", range(0, 60, 5)), ("BYSECOND", (0, 30))):
        if draw(st.integers(0, 3)) == 0:
            parts.append(f"{name}=" + ",".join(map(str, draw(st.sets(st.sampled_from(values), min_size=1, max_size=3)))))
    if freq == "DAILY" and len(parts) > 2 and draw(st.integers(0, 3)) == 0:
        parts.append(f"BYSETPOS={draw(st.sampled_from([1, -1, 2, -2]))}")
    if freq == "WEEKLY":
        parts.append("WKST=" + draw(st.sampled_from(WEEKDAY_CODES)))
    return ";".join(parts)


@settings(max_examples=200, deadline=None)
@given(periodic_rules(), st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1)), st.data())
def test_periodic_source_equals_dateutil(rule: str, dtstart: datetime, data: st.DataObject) -> None:
    """The arithmetic fast path and dateutil produce the same candidates,
    and the fast path's counts match them."""
    spec = parse_rrule(rule)
    dtstart = dtstart.replace(microsecond=0)
    fast = raw_source(spec, dtstart)
    slow = raw_source(spec, dtstart, periodic=False)
    assume(type(fast) is not type(slow))
    expected = [w for _, w in zip(range(200), slow.iter_from(0), strict=False)]
    assert [w for _, w in zip(range(200), fast.iter_from(0), strict=False)] == expected
    k = data.draw(st.integers(0, len(expected) - 1)) if expected else 0
    tail = expected[k : k + 5]
    assert [w for _, w in zip(range(len(tail)), fast.iter_from(k), strict=False)] == tail
    if expected:
        probe = data.draw(st.sampled_from(expected)) + data.draw(
            st.sampled_from([timedelta(0), timedelta(seconds=1), -timedelta(seconds=1)])
        )
        assert fast.count_before(probe) == sum(1 for w in expected if w < probe) or probe > expected[-1]
        assert fast.contains(probe) == (probe in expected) or probe > expected[-1]


def _vevent(s: Series) -> icalendar.Calendar:
    start_value = s.start_value
    start, end, _ = s.protos()
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//EN", "BEGIN:VEVENT", "UID:p",
             "DTSTAMP:20260101T000000Z"]
    if s.kind == "all-day":
        lines += [f"DTSTART;VALUE=DATE:{start_value:%Y%m%d}",
                  f"DTEND;VALUE=DATE:{start_value + timedelta(days=max(1, s.length.days)):%Y%m%d}"]
    elif s.kind == "floating":
        lines += [f"DTSTART:{start_value:%Y%m%dT%H%M%S}", f"DTEND:{start_value + s.length:%Y%m%dT%H%M%S}"]
    else:
        assert isinstance(start_value, datetime)
        end_value = (start_value.astimezone(UTC) + s.length).astimezone(s.zone)
        lines += [f"DTSTART;TZID={s.zone.key}:{start_value:%Y%m%dT%H%M%S}",
                  f"DTEND;TZID={s.zone.key}:{end_value:%Y%m%dT%H%M%S}"]
    lines += [f"RRULE:{s.rule}", "END:VEVENT", "END:VCALENDAR"]
    return icalendar.Calendar.from_ical("\r\n".join(lines))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(series())
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
            # RFC 5545 §3.3.10 skips it, and then COUNT reaches one further.
            assume("COUNT" not in s.rule)
            event("an instance in a DST gap")
            continue
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
