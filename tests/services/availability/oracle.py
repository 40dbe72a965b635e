"""A brute-force minute-grid oracle for ``QueryAvailability``.

Built from the raw inputs only, never from the engine or its helpers: for
every minute inside the windows it decides, for each participant, whether an
event (widened by the buffers) covers the minute and whether the minute is
inside working hours, reading each schedule's weekly hours and date
overrides against the minute's wall-clock time in the schedule's zone
(``zoneinfo``). Free ranges are then the maximal runs of good minutes of at
least the meeting's length inside one window; slots start at the window
start plus a multiple of the increment.

Everything here is in whole minutes since the epoch (UTC).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

from almanac.v1 import availability_service_pb2 as av_pb
from almanac.v1 import calendar_service_pb2 as cal_pb

__all__ = [
    "BUFFER",
    "BUSY",
    "EPOCH",
    "OFF",
    "QUORUM",
    "TOO_SHORT",
    "Answer",
    "Ask",
    "Busy",
    "Cal",
    "Person",
    "Reason",
    "Solution",
    "minute_of",
    "moment",
    "solve",
    "transitions",
]

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
BUSY = av_pb.EXCLUSION_KIND_BUSY
OFF = av_pb.EXCLUSION_KIND_OUTSIDE_WORKING_HOURS
BUFFER = av_pb.EXCLUSION_KIND_BUFFER
TOO_SHORT = av_pb.EXCLUSION_KIND_TOO_SHORT
QUORUM = av_pb.EXCLUSION_KIND_GROUP_QUORUM

# (participant label, calendar, kind, event)
Reason = tuple[str, str, int, str]


def minute_of(moment_: dt.datetime) -> int:
    """Whole minutes since the epoch of an aware datetime (must be on the minute)."""
    seconds = (moment_ - EPOCH).total_seconds()
    assert seconds % 60 == 0, moment_
    return int(seconds // 60)


def moment(minute: int) -> dt.datetime:
    return EPOCH + dt.timedelta(minutes=minute)


def transitions(zone: str, year: int) -> list[dt.datetime]:
    """The UTC instants at which ``zone`` changes its offset during ``year``."""
    tz = ZoneInfo(zone)
    out: list[dt.datetime] = []
    t = dt.datetime(year, 1, 1, tzinfo=UTC)
    end = dt.datetime(year + 1, 1, 1, tzinfo=UTC)
    step = dt.timedelta(hours=6)
    while t < end:
        if t.astimezone(tz).utcoffset() != (t + step).astimezone(tz).utcoffset():
            lo, hi = t, t + step  # offset(lo) != offset(hi): bisect to the minute
            while hi - lo > dt.timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(second=0, microsecond=0)
                if mid.astimezone(tz).utcoffset() == lo.astimezone(tz).utcoffset():
                    lo = mid
                else:
                    hi = mid
            out.append(hi)
        t += step
    return out


# --- inputs ------------------------------------------------------------------------


@dataclass(frozen=True)
class Busy:
    """Busy time of one calendar: [start, end) in minutes, and the event causing it."""

    start: int
    end: int
    calendar: str
    event: str


@dataclass(frozen=True)
class Cal:
    name: str
    zone: str  # the calendar's zone: schedules without their own zone use it
    schedules: tuple[cal_pb.Schedule, ...] = ()


@dataclass(frozen=True)
class Person:
    label: str
    calendars: tuple[Cal, ...]
    busy: tuple[Busy, ...] = ()
    ignore_working_hours: bool = False


@dataclass(frozen=True)
class Ask:
    windows: tuple[tuple[int, int], ...]  # minutes, any order, not overlapping
    duration: int  # minutes
    increment: int = 0  # minutes; 0: free ranges
    buffer_before: int = 0
    buffer_after: int = 0
    max_results: int = 100  # already defaulted
    required: tuple[Person, ...] = ()
    groups: tuple[tuple[tuple[Person, ...], int], ...] = ()  # members, minimum free


@dataclass(frozen=True)
class Answer:
    times: list[tuple[int, int, tuple[str, ...]]]  # start, end, free optional labels
    truncated: bool


@dataclass
class Solution:
    """The answer plus what explanations are checked against."""

    answer: Answer
    lo: int  # first minute of the span
    excluded: list[tuple[int, int]]  # in-window minutes outside every free range, as runs
    applies: dict[int, frozenset[Reason]] = field(default_factory=dict)  # per excluded minute


# --- working hours, minute by minute --------------------------------------------------


def _tod(t: object) -> int:
    return int(t.hours) * 60 + int(t.minutes)  # type: ignore[attr-defined]


def _date(d: object) -> dt.date:
    return dt.date(d.year, d.month, d.day)  # type: ignore[attr-defined]


@lru_cache(maxsize=32)
def _local_clock(zone: str, lo: int, hi: int) -> tuple[tuple[dt.date, int], ...]:
    """For each minute of [lo, hi): its local date and minute of the day in ``zone``."""
    tz = ZoneInfo(zone)
    out = []
    start = moment(lo)
    for i in range(hi - lo):
        local = (start + dt.timedelta(minutes=i)).astimezone(tz)
        out.append((local.date(), local.hour * 60 + local.minute))
    return tuple(out)


def schedule_minutes(schedule: cal_pb.Schedule, default_zone: str, lo: int, hi: int) -> bytearray:
    """1 for each minute of [lo, hi) inside the schedule's hours."""
    zone = schedule.time_zone or default_zone or "UTC"
    weekly: dict[int, list[tuple[int, int]]] = {d: [] for d in range(7)}
    for w in schedule.weekly_hours:
        weekly[int(w.day) - 1].append((_tod(w.start_time), _tod(w.end_time)))  # MONDAY is 1
    overrides: dict[dt.date, list[tuple[int, int]]] = {}
    for o in schedule.date_overrides:
        overrides.setdefault(_date(o.date), []).extend(
            (_tod(iv.start_time), _tod(iv.end_time)) for iv in o.intervals
        )
    first = _date(schedule.start_date) if schedule.HasField("start_date") else dt.date.min
    last = _date(schedule.end_date) if schedule.HasField("end_date") else dt.date.max
    out = bytearray(hi - lo)
    for i, (day, t) in enumerate(_local_clock(zone, lo, hi)):
        if not first <= day <= last:
            continue
        pairs = overrides[day] if day in overrides else weekly[day.weekday()]
        if any(s <= t < e for s, e in pairs):
            out[i] = 1
    return out


def working_minutes(person: Person, lo: int, hi: int) -> bytearray:
    """Where every calendar with enabled schedules is inside one of them (1) or not (0)."""
    out = bytearray(b"\x01") * (hi - lo)
    if person.ignore_working_hours:
        return out
    for cal in person.calendars:
        enabled = [s for s in cal.schedules if not s.disabled]
        if not enabled:
            continue  # no schedule: always available
        any_schedule = bytearray(hi - lo)
        for schedule in enabled:
            for i, v in enumerate(schedule_minutes(schedule, cal.zone, lo, hi)):
                if v:
                    any_schedule[i] = 1
        for i, v in enumerate(any_schedule):
            if not v:
                out[i] = 0
    return out


# --- the oracle ---------------------------------------------------------------------


@dataclass
class _Grid:
    person: Person
    working: bytearray
    busy: list[list[Busy]]  # per minute: the events covering it
    buffer: list[list[Busy]]  # per minute: the events whose buffer covers it (not the event)
    free: bytearray


def _grid(person: Person, ask: Ask, lo: int, hi: int) -> _Grid:
    n = hi - lo
    working = working_minutes(person, lo, hi)
    busy: list[list[Busy]] = [[] for _ in range(n)]
    buffer: list[list[Busy]] = [[] for _ in range(n)]
    for b in person.busy:
        if b.end <= b.start:
            continue  # no time, nothing to block
        for m in range(max(lo, b.start - ask.buffer_before), min(hi, b.end + ask.buffer_after)):
            (busy if b.start <= m < b.end else buffer)[m - lo].append(b)
    free = bytearray(1 if working[i] and not busy[i] and not buffer[i] else 0 for i in range(n))
    return _Grid(person, working, busy, buffer, free)


def _all(free: bytearray, a: int, b: int) -> bool:
    return all(free[a:b])


def solve(ask: Ask, *, explain: bool = False) -> Solution:
    windows = sorted(ask.windows)
    lo, hi = windows[0][0], max(e for _, e in windows)
    n = hi - lo
    required = [_grid(p, ask, lo, hi) for p in ask.required]
    groups = [([_grid(p, ask, lo, hi) for p in members], k) for members, k in ask.groups]
    in_window = bytearray(n)
    for s, e in windows:
        in_window[s - lo : e - lo] = b"\x01" * (e - s)
    quorate = [bytearray(n) for _ in groups]
    for g, (members, k) in enumerate(groups):
        for i in range(n):
            quorate[g][i] = sum(m.free[i] for m in members) >= k
    ok = bytearray(
        1 if in_window[i] and all(p.free[i] for p in required) and all(q[i] for q in quorate) else 0
        for i in range(n)
    )
    optional = [m for members, _ in groups for m in members]

    def labels(a: int, b: int) -> tuple[str, ...]:
        return tuple(m.person.label for m in optional if _all(m.free, a - lo, b - lo))

    ranges: list[tuple[int, int]] = []
    for ws, we in windows:
        m = ws
        while m < we:
            if not ok[m - lo]:
                m += 1
                continue
            start = m
            while m < we and ok[m - lo]:
                m += 1
            if m - start >= ask.duration:
                ranges.append((start, m))
    found: list[tuple[int, int, tuple[str, ...]]] = []
    if not ask.increment:
        found = [(s, e, labels(s, e)) for s, e in ranges]
    else:
        for ws, we in windows:
            t = ws
            while t + ask.duration <= we:
                if _all(ok, t - lo, t + ask.duration - lo):
                    found.append((t, t + ask.duration, labels(t, t + ask.duration)))
                t += ask.increment
    answer = Answer(found[: ask.max_results], len(found) > ask.max_results)
    covered = bytearray(n)
    for s, e in ranges:
        covered[s - lo : e - lo] = b"\x01" * (e - s)
    excluded = _runs([lo + i for i in range(n) if in_window[i] and not covered[i]])
    solution = Solution(answer, lo, excluded)
    if explain:
        for s, e in excluded:
            for m in range(s, e):
                solution.applies[m] = _applies(m - lo, required, groups, quorate)
    return solution


def _runs(minutes: Iterable[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for m in minutes:
        if out and out[-1][1] == m:
            out[-1] = (out[-1][0], m + 1)
        else:
            out.append((m, m + 1))
    return out


def _person_reasons(grid: _Grid, i: int) -> set[Reason]:
    label = grid.person.label
    out: set[Reason] = {(label, b.calendar, BUSY, b.event) for b in grid.busy[i]}
    out |= {(label, b.calendar, BUFFER, b.event) for b in grid.buffer[i]}
    if not grid.working[i]:
        out.add((label, "", OFF, ""))
    return out


def _applies(
    i: int,
    required: Sequence[_Grid],
    groups: Sequence[tuple[list[_Grid], int]],
    quorate: Sequence[bytearray],
) -> frozenset[Reason]:
    """Every reason that holds at minute ``lo + i`` (an excluded minute)."""
    out: set[Reason] = set()
    for p in required:
        out |= _person_reasons(p, i)
    for g, (members, _) in enumerate(groups):
        if not quorate[g][i]:
            out.add((f"groups[{g}]", "", QUORUM, ""))
            for m in members:
                out |= _person_reasons(m, i)
    if not out:
        out.add(("", "", TOO_SHORT, ""))
    return frozenset(out)
