"""The ``availability`` scenario's data: 20 calendars of seeded events, as ICS, and the answer.

`generate` is deterministic (seeded `random.Random`, fixed dates, no clock).
Every calendar gets ``n`` events inside the 30-day `WINDOW_START`..`WINDOW_END`
(both DST changes of 2027 spring fall in it: the US on 14 March, Europe on
28 March), written in the calendar's own zone (a tenth of the single events
in UTC):

- 90% single events of 15-120 minutes (5-minute steps) at random times of
  day and night; 1% of them all-day;
- 10% series whose instances all fall in the window: daily with COUNT,
  Monday-Friday with COUNT, or weekly with UNTIL; some with an EXDATE;
- busy rules: 5% transparent, 2% cancelled, 2% declined by the calendar's
  owner (an ATTENDEE with PARTSTAT=DECLINED), 5% tentative (busy), the rest
  confirmed.

With this density (1,000 events cover about 85% of a calendar's month) 20
random calendars would never be free together, so the data keeps a shared
"no meetings" block free: one 90-minute `gaps` block per weekday inside
13:00-16:00 UTC, which is within working hours (08:00-18:00 local,
Monday-Friday) in every zone of `ZONES` on every day of the window. No
event that blocks time touches a gap (rejection sampling); transparent,
cancelled and declined events may, so the busy rules decide whether the
gap survives. Local times that fall in a DST gap or overlap are redrawn, so
every instant is unambiguous.

`expected_slots` computes the answer of the scenario's query (all 20
calendars required, working hours on, slots on a 15-minute grid) from the
specs alone, on a 5-minute grid (every time here lies on one): the
reference the service's slot count is checked against.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import icalendar

__all__ = [
    "DAYS",
    "N_CALENDARS",
    "SEED",
    "WINDOW_END",
    "WINDOW_START",
    "WORK_END_HOUR",
    "WORK_START_HOUR",
    "ZONES",
    "CalendarPlan",
    "EventSpec",
    "Expected",
    "expected_slots",
    "gaps",
    "generate",
    "ics_document",
]

SEED = 4242
N_CALENDARS = 20
DAYS = 30
WINDOW_START = datetime(2027, 3, 8, tzinfo=UTC)  # a Monday
WINDOW_END = WINDOW_START + timedelta(days=DAYS)
# Calendars cycle through these: the zones' 08:00-18:00 all contain 13:00-16:00
# UTC on every day of the window (Asia/Tokyo's would never meet New York's).
ZONES = ("Europe/Berlin", "America/New_York", "Europe/London", "America/Sao_Paulo")
WORK_START_HOUR, WORK_END_HOUR = 8, 18
GAP_MINUTES = 90
GAP_EARLIEST = timedelta(hours=13)  # UTC; the latest gap ends at 16:00
GAP_STARTS = 7  # 13:00, 13:15, ... 14:30

SERIES_SHARE = 0.10
ALL_DAY_SHARE = 0.01
UTC_SHARE = 0.10  # of timed single events: written as ...Z instead of TZID
EXDATE_SHARE = 0.15  # of series with three or more instances
TRANSPARENT, CANCELLED, DECLINED, TENTATIVE = 0.05, 0.02, 0.02, 0.05
STEP = timedelta(minutes=5)
PRODID = "-//Almanac//bench availability//EN"
DTSTAMP = "20270101T000000Z"
_TITLES = ("Standup", "1:1", "Review", "Planning", "Lunch", "Workshop", "Call", "Demo",
           "Retro", "Interview", "Sync", "Office hours", "Focus", "Travel")  # fmt: skip
_WEEKDAYS = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"

Span = tuple[int, int]  # UTC microseconds, half-open


def _us(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_WS, _WE = _us(WINDOW_START), _us(WINDOW_END)


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event or series. Timed ``start``/``end`` are aware (in ``zone``); all-day are dates."""

    uid: str
    summary: str
    zone: str  # IANA name, "UTC" (written with Z) or "" (all-day)
    start: datetime | date
    end: datetime | date
    spans: tuple[Span, ...]  # every occurrence (EXDATEs removed) in UTC microseconds
    rrule: str = ""
    exdates: tuple[datetime, ...] = ()
    transparent: bool = False
    status: str = ""  # "", "TENTATIVE" or "CANCELLED"
    declined: bool = False  # the calendar's owner declined it

    @property
    def blocks(self) -> bool:
        """Whether it makes the owner busy (tentative events do)."""
        return not (self.transparent or self.declined or self.status == "CANCELLED")


@dataclass(frozen=True)
class CalendarPlan:
    calendar_id: str
    zone: str
    owner: str  # the participant label: declined events name this attendee
    events: list[EventSpec] = field(repr=False)
    seed: int = SEED

    @property
    def series(self) -> int:
        return sum(1 for e in self.events if e.rrule)

    @property
    def blocks(self) -> int:
        """Busy occurrences: what the availability service reads for this calendar."""
        return sum(len(e.spans) for e in self.events if e.blocks)

    @property
    def free_in_gaps(self) -> int:
        """Events in the shared free blocks that must not block (the busy rules' test)."""
        return sum(1 for e in self.events if not e.blocks and _touches_gap(e.spans, self.seed))


@cache
def gaps(seed: int = SEED) -> tuple[Span, ...]:
    """The shared free block of every weekday (UTC) of the window."""
    rng = random.Random(seed)
    out = []
    for d in range(DAYS):
        day = WINDOW_START + timedelta(days=d)
        if day.weekday() < 5:
            start = day + GAP_EARLIEST + timedelta(minutes=15 * rng.randrange(GAP_STARTS))
            out.append((_us(start), _us(start + timedelta(minutes=GAP_MINUTES))))
    return tuple(out)


def _touches_gap(spans: Sequence[Span], seed: int) -> bool:
    return any(s < ge and e > gs for s, e in spans for gs, ge in gaps(seed))


def _clear(local: datetime) -> bool:
    """Neither in a DST gap nor in an overlap (both folds give the same offset)."""
    return local.replace(fold=0).utcoffset() == local.replace(fold=1).utcoffset()


def _span(start: datetime, end: datetime) -> Span | None:
    """The UTC span of a local occurrence, or None when it is not clear-cut.

    An occurrence must not cross a DST change either, so that a wall-clock and
    an exact reading of DTEND - DTSTART agree.
    """
    if not (_clear(start) and _clear(end)) or start.utcoffset() != end.utcoffset():
        return None
    span = (_us(start), _us(end))
    return span if _WS <= span[0] and span[1] <= _WE else None


@dataclass(frozen=True)
class _Flags:
    transparent: bool = False
    status: str = ""
    declined: bool = False

    @property
    def blocks(self) -> bool:
        return not (self.transparent or self.declined or self.status == "CANCELLED")

    def spec(
        self,
        uid: str,
        summary: str,
        zone: str,
        start: datetime | date,
        end: datetime | date,
        spans: tuple[Span, ...],
        rrule: str = "",
        exdates: tuple[datetime, ...] = (),
    ) -> EventSpec:
        return EventSpec(uid, summary, zone, start, end, spans, rrule, exdates,
                         self.transparent, self.status, self.declined)  # fmt: skip


class _Maker:
    def __init__(self, rng: random.Random, plan_id: str, zone: str, seed: int) -> None:
        self.rng = rng
        self.plan_id = plan_id
        self.zone = zone
        self.tz = ZoneInfo(zone)
        self.seed = seed

    def flags(self) -> _Flags:
        r = self.rng.random()
        for share, flags in (
            (TRANSPARENT, _Flags(transparent=True)),
            (CANCELLED, _Flags(status="CANCELLED")),
            (DECLINED, _Flags(declined=True)),
            (TENTATIVE, _Flags(status="TENTATIVE")),
        ):
            if r < share:
                return flags
            r -= share
        return _Flags()

    def minutes(self) -> timedelta:
        return timedelta(minutes=5 * self.rng.randint(3, 24))  # 15-120 minutes

    def ok(self, spans: Sequence[Span], flags: _Flags) -> bool:
        return not (flags.blocks and _touches_gap(spans, self.seed))

    def single(self, i: int) -> EventSpec:
        rng = self.rng
        flags = self.flags()
        title = f"{rng.choice(_TITLES)} #{i}"
        uid = f"{self.plan_id}-{i:05d}@almanac.bench"
        if rng.random() < ALL_DAY_SHARE:
            while True:
                day = (WINDOW_START + timedelta(days=rng.randrange(DAYS))).date()
                lo = datetime.combine(day, datetime.min.time(), self.tz)
                hi = datetime.combine(day + timedelta(days=1), datetime.min.time(), self.tz)
                spans = ((_us(lo), _us(hi)),)
                if _WS <= spans[0][0] and spans[0][1] <= _WE and self.ok(spans, flags):
                    return flags.spec(uid, title, "", day, day + timedelta(days=1), spans)
        in_utc = rng.random() < UTC_SHARE
        while True:
            length = self.minutes()
            start = WINDOW_START + STEP * rng.randrange((_WE - _WS) // 300_000_000)
            local = start.astimezone(UTC if in_utc else self.tz)
            end = local + length  # wall clock; _span rejects a DST change in between
            span = _span(local, end)
            if span is not None and self.ok((span,), flags):
                zone = "UTC" if in_utc else self.zone
                return flags.spec(uid, title, zone, local, end, (span,))

    def series(self, i: int) -> EventSpec:
        rng = self.rng
        flags = self.flags()
        title = f"{rng.choice(_TITLES)} series #{i}"
        uid = f"{self.plan_id}-{i:05d}@almanac.bench"
        while True:
            length = self.minutes()
            kind = rng.random()
            first = (WINDOW_START + timedelta(days=rng.randrange(DAYS))).date()
            at = (datetime.min + STEP * rng.randrange(288)).time()
            days: list[date]
            if kind < 0.35:
                count = rng.randint(3, 10)
                rule = f"FREQ=DAILY;COUNT={count}"
                days = [first + timedelta(days=k) for k in range(count)]
            elif kind < 0.70:
                if first.weekday() >= 5:
                    continue
                count = rng.randint(5, 15)
                rule = f"{_WEEKDAYS};COUNT={count}"
                days = list(_weekdays(first, count))
            else:
                first = (WINDOW_START + timedelta(days=rng.randrange(7))).date()
                until = WINDOW_END - timedelta(seconds=1)
                rule = f"FREQ=WEEKLY;UNTIL={until:%Y%m%dT%H%M%SZ}"
                days = []
                while True:
                    day = first + timedelta(weeks=len(days))
                    if _us(datetime.combine(day, at, self.tz)) > _us(until):
                        break
                    days.append(day)
            starts = [datetime.combine(d, at, self.tz) for d in days]
            spans = [_span(s, s + length) for s in starts]
            if not starts or any(s is None for s in spans):
                continue
            exdates: tuple[datetime, ...] = ()
            if len(starts) >= 3 and rng.random() < EXDATE_SHARE:
                k = rng.randrange(1, len(starts))
                exdates = (starts[k],)
                del spans[k]
            kept = tuple(s for s in spans if s is not None)
            if self.ok(kept, flags):
                return flags.spec(
                    uid, title, self.zone, starts[0], starts[0] + length, kept, rule, exdates
                )


def _weekdays(first: date, count: int) -> Iterator[date]:
    day = first
    while count:
        if day.weekday() < 5:
            yield day
            count -= 1
        day += timedelta(days=1)


def generate(n_events: int, seed: int = SEED) -> list[CalendarPlan]:
    """`N_CALENDARS` calendars of ``n_events`` events each; the same for the same arguments."""
    plans = []
    for c in range(N_CALENDARS):
        rng = random.Random(seed * 7919 + n_events * 31 + c)
        plan_id = f"p{c:02d}"
        zone = ZONES[c % len(ZONES)]
        maker = _Maker(rng, plan_id, zone, seed)
        series_at = set(rng.sample(range(n_events), round(n_events * SERIES_SHARE)))
        events = [maker.series(i) if i in series_at else maker.single(i) for i in range(n_events)]
        plans.append(CalendarPlan(plan_id, zone, f"owner-{plan_id}@almanac.bench", events, seed))
    return plans


# ------------------------------------------------------------------------ ICS


@cache
def _vtimezone(zone: str) -> tuple[str, ...]:
    """The VTIMEZONE icalendar writes for ``zone`` (2026-2028), as ICS lines."""
    cal = icalendar.Calendar()
    ev = icalendar.Event()
    ev.add("dtstart", datetime(2027, 1, 1, tzinfo=ZoneInfo(zone)))
    cal.add_component(ev)
    cal.add_missing_timezones(first_date=date(2026, 1, 1), last_date=date(2028, 1, 1))
    (tz,) = cal.walk("VTIMEZONE")
    text: str = tz.to_ical().decode()
    return tuple(text.splitlines())


def _when(name: str, value: datetime | date, zone: str) -> str:
    if not isinstance(value, datetime):
        return f"{name};VALUE=DATE:{value:%Y%m%d}"
    if zone == "UTC":
        return f"{name}:{value.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return f"{name};TZID={zone}:{value:%Y%m%dT%H%M%S}"


def _vevent(e: EventSpec, owner: str) -> list[str]:
    lines = ["BEGIN:VEVENT", f"UID:{e.uid}", f"DTSTAMP:{DTSTAMP}", f"SUMMARY:{e.summary}",
             _when("DTSTART", e.start, e.zone), _when("DTEND", e.end, e.zone)]  # fmt: skip
    if e.rrule:
        lines.append(f"RRULE:{e.rrule}")
    lines += [_when("EXDATE", x, e.zone) for x in e.exdates]
    if e.transparent:
        lines.append("TRANSP:TRANSPARENT")
    if e.status:
        lines.append(f"STATUS:{e.status}")
    if e.declined:
        lines += [
            "ORGANIZER:mailto:someone-else@almanac.bench",
            f"ATTENDEE;PARTSTAT=DECLINED:mailto:{owner}",
        ]
    lines.append("END:VEVENT")
    return lines


def ics_document(plan: CalendarPlan) -> bytes:
    """One VCALENDAR with the plan's events and the VTIMEZONE of its zone."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", *_vtimezone(plan.zone)]
    for e in plan.events:
        lines += _vevent(e, plan.owner)
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


# -------------------------------------------------------- the expected answer


@dataclass(frozen=True)
class Expected:
    slots: int  # within max_results
    truncated: bool
    first: int  # start of the first slot (UTC microseconds), 0 if none
    last: int


def _working(zone: str) -> Iterator[Span]:
    tz = ZoneInfo(zone)
    first = WINDOW_START.astimezone(tz).date() - timedelta(days=1)
    for d in range(DAYS + 2):
        day = first + timedelta(days=d)
        if day.weekday() < 5:
            lo = datetime.combine(day, datetime.min.time(), tz).replace(hour=WORK_START_HOUR)
            hi = datetime.combine(day, datetime.min.time(), tz).replace(hour=WORK_END_HOUR)
            yield _us(lo), _us(hi)


def expected_slots(
    plans: Sequence[CalendarPlan], duration_min: int, increment_min: int, max_results: int
) -> Expected:
    """Slots of ``duration_min`` every ``increment_min`` from the window start when all are free.

    On a 5-minute grid: 1 = free for everyone so far. Independent of the
    service's interval code on purpose.
    """
    cell = 300_000_000
    cells = (_WE - _WS) // cell

    def index(t: int) -> int:
        return min(cells, max(0, (t - _WS) // cell))

    free = bytearray(b"\x01" * cells)
    for plan in plans:
        own = bytearray(cells)  # 0 = off or busy
        for s, e in _working(plan.zone):
            own[index(s) : index(e)] = b"\x01" * (index(e) - index(s))
        for ev in plan.events:
            if ev.blocks:
                for s, e in ev.spans:
                    own[index(s) : index(e)] = bytes(index(e) - index(s))
        free = bytearray(a & b for a, b in zip(free, own, strict=True))
    need, step = duration_min // 5, increment_min // 5
    found: list[int] = []
    truncated = False
    for k in range(0, cells - need + 1, step):
        if all(free[k : k + need]):
            if len(found) == max_results:
                truncated = True
                break
            found.append(_WS + k * cell)
    return Expected(len(found), truncated, found[0] if found else 0, found[-1] if found else 0)
