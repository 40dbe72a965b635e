"""The ``events`` scenario's calendar: 10,000 seeded events as ICS and as ``almanac.v1`` protos.

`generate` is deterministic (a seeded `random.Random`, fixed dates, no clock),
so the bench process (which writes the ICS for Radicale) and the Almanac client
process (which builds the protos) describe the very same events without
passing 10,000 of them between processes.

The mix: 9,000 single events across `YEAR`, timed (five zones, 30-120 min
long) but for 5% all-day ones (one to three days); 1,000 weekly series, some with
a COUNT and some endless, a fifth on three weekdays, a few all-day, and a fifth
with one or two EXDATEs that remove real occurrences. Timed starts lie between
08:00 and 18:45 local time (so in Los Angeles and Tokyo some start on a UTC
midnight, the edge of the month window).

`expected_instances` counts, from the specs alone, what a month query that
expands series should return ([start, end) as RFC 4791 defines a time range):
the reference the servers' counts are checked against. `series_starting_at`
counts the series instances that start exactly on an instant: Radicale 3.9's
expand treats the range end as inclusive for series instances (not for single
events) and adds those of the month's end.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import icalendar
from dateutil import rrule as du_rrule

if TYPE_CHECKING:
    from almanac.v1 import common_pb2, event_service_pb2

__all__ = [
    "MONTH_END",
    "MONTH_START",
    "N_EVENTS",
    "SEED",
    "YEAR",
    "EventSpec",
    "expected_instances",
    "extra_event",
    "generate",
    "ics_document",
    "series_starting_at",
    "to_proto",
    "vevent",
]

SEED = 20260
YEAR = 2026
N_EVENTS = 10_000
SERIES_SHARE = 0.10
# The month both servers are asked for: October has Europe's DST change (25th)
# and most series are running by then.
MONTH_START = datetime(YEAR, 10, 1, tzinfo=UTC)
MONTH_END = datetime(YEAR, 11, 1, tzinfo=UTC)

# (zone, weight); "UTC" is written as a ...Z time in ICS, with no VTIMEZONE.
ZONES = (
    ("Europe/Berlin", 35),
    ("America/New_York", 30),
    ("UTC", 20),
    ("America/Los_Angeles", 10),
    ("Asia/Tokyo", 5),
)
ALL_DAY_SINGLE_SHARE = 0.05
ALL_DAY_SERIES_SHARE = 0.05
COUNT_SERIES_SHARE = 0.40  # the rest are endless
MULTI_DAY_SERIES_SHARE = 0.20  # BYDAY with three weekdays instead of one
EXDATE_SERIES_SHARE = 0.20
PRODID = "-//Almanac//bench events//EN"
DTSTAMP = datetime(YEAR - 1, 12, 1, tzinfo=UTC)
# The VTIMEZONEs cover the data with margin, as a client exporting this year
# would write them; icalendar's default (1970-2038) would triple their size.
VTIMEZONE_FROM = date(YEAR - 1, 1, 1)
VTIMEZONE_TO = date(YEAR + 3, 1, 1)
_BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_TITLES = (
    "Standup",
    "1:1",
    "Review",
    "Planning",
    "Lunch",
    "Workshop",
    "Call",
    "Demo",
    "Retro",
    "Interview",
    "Dentist",
    "Gym",
    "Sync",
    "Offsite prep",
    "Office hours",
)
_PLACES = ("", "", "Room 1", "Room 2", "Berlin office", "Video call", "Cafe", "Lab")


@dataclass(frozen=True)
class EventSpec:
    """One event or series, independent of either server's format.

    ``start``/``end`` are aware datetimes in ``zone`` for timed events and
    dates for all-day ones (``end`` exclusive); ``exdates`` are of the same kind.
    """

    uid: str
    summary: str
    location: str
    description: str
    start: datetime | date
    end: datetime | date
    zone: str  # IANA name; "" for all-day events
    rrule: str = ""  # e.g. "FREQ=WEEKLY;COUNT=12", "" for a single event
    exdates: tuple[datetime | date, ...] = field(default=())

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, datetime)

    @property
    def event_id(self) -> str:
        """The Almanac event id: the UID's local part (``[A-Za-z0-9-]``)."""
        return self.uid.split("@", 1)[0]


def _zone(rng: random.Random) -> str:
    return rng.choices([z for z, _ in ZONES], [w for _, w in ZONES])[0]


def _timed(rng: random.Random, day: date, zone: str) -> tuple[datetime, datetime]:
    # 08:00-18:45 local in quarter hours; 30-120 minutes long.
    start = datetime.combine(day, time(8), ZoneInfo(zone)) + timedelta(
        minutes=15 * rng.randrange(44)
    )
    end = start + timedelta(minutes=15 * rng.randint(2, 8))  # wall clock, as RFC 5545 does
    return start, end


def _day(rng: random.Random) -> date:
    return date(YEAR, 1, 1) + timedelta(days=rng.randrange(365))


def _texts(rng: random.Random, i: int) -> tuple[str, str, str]:
    title = f"{rng.choice(_TITLES)} #{i}"
    description = "" if rng.random() < 0.5 else f"Agenda for {title}: notes, links and a plan."
    return title, rng.choice(_PLACES), description


def _single(rng: random.Random, i: int, prefix: str = "bench") -> EventSpec:
    title, place, description = _texts(rng, i)
    uid = f"{prefix}-{i:05d}@almanac.bench"
    day = _day(rng)
    if rng.random() < ALL_DAY_SINGLE_SHARE:
        return EventSpec(
            uid, title, place, description, day, day + timedelta(days=rng.randint(1, 3)), ""
        )
    zone = _zone(rng)
    start, end = _timed(rng, day, zone)
    return EventSpec(uid, title, place, description, start, end, zone)


def _series(rng: random.Random, i: int) -> EventSpec:
    title, place, description = _texts(rng, i)
    uid = f"bench-{i:05d}@almanac.bench"
    day = _day(rng)
    parts = ["FREQ=WEEKLY"]
    if rng.random() < MULTI_DAY_SERIES_SHARE:
        # The start's own weekday plus two others, so DTSTART is an occurrence.
        days = {day.weekday(), *rng.sample(range(7), 2)}
        while len(days) < 3:
            days.add(rng.randrange(7))
        parts.append("BYDAY=" + ",".join(_BYDAY[d] for d in sorted(days)))
    count = 0
    if rng.random() < COUNT_SERIES_SHARE:
        count = rng.randint(4, 52)
        parts.append(f"COUNT={count}")
    exdates: list[datetime | date] = []
    if rng.random() < EXDATE_SERIES_SHARE:
        # Whole weeks after the start are occurrences whatever the BYDAY;
        # with a COUNT, stay within the first `count` weeks' worth of them.
        limit = max(1, count - 1) if count else 40
        weeks = sorted(set(rng.randint(1, limit) for _ in range(rng.randint(1, 2))))
        exdates = [day + timedelta(weeks=w) for w in weeks]
    if rng.random() < ALL_DAY_SERIES_SHARE:
        return EventSpec(
            uid,
            title,
            place,
            description,
            day,
            day + timedelta(days=1),
            "",
            ";".join(parts),
            tuple(exdates),
        )
    zone = _zone(rng)
    start, end = _timed(rng, day, zone)
    timed_exdates = tuple(
        datetime.combine(d, start.time(), start.tzinfo) for d in exdates if isinstance(d, date)
    )
    return EventSpec(
        uid, title, place, description, start, end, zone, ";".join(parts), timed_exdates
    )


def generate(n: int = N_EVENTS, seed: int = SEED) -> list[EventSpec]:
    """``n`` events, one in ten of them a weekly series; the same list for the same seed."""
    rng = random.Random(seed)
    n_series = round(n * SERIES_SHARE)
    # Series are spread over the list rather than bunched at the end.
    series_at = set(rng.sample(range(n), n_series))
    return [_series(rng, i) if i in series_at else _single(rng, i) for i in range(n)]


def extra_event(i: int, seed: int = SEED) -> EventSpec:
    """A new single timed event for the create-throughput runs (UID prefix ``new``)."""
    rng = random.Random(seed * 1_000_003 + i)
    while True:
        spec = _single(rng, i, prefix="new")
        if not spec.all_day:
            return spec


# ------------------------------------------------------------------------ ICS


def vevent(spec: EventSpec) -> icalendar.Event:
    ev = icalendar.Event()
    ev.add("uid", spec.uid)
    ev.add("dtstamp", DTSTAMP)
    ev.add("summary", spec.summary)
    if spec.location:
        ev.add("location", spec.location)
    if spec.description:
        ev.add("description", spec.description)
    ev.add("dtstart", spec.start)
    ev.add("dtend", spec.end)
    if spec.rrule:
        ev.add("rrule", icalendar.vRecur.from_ical(spec.rrule))
    if spec.exdates:
        ev.add("exdate", list(spec.exdates))
    return ev


def ics_document(specs: Iterable[EventSpec], name: str = "") -> bytes:
    """One VCALENDAR with every event and the VTIMEZONEs they need."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    if name:
        cal.add("x-wr-calname", name)
    for spec in specs:
        cal.add_component(vevent(spec))
    cal.add_missing_timezones(first_date=VTIMEZONE_FROM, last_date=VTIMEZONE_TO)
    missing = cal.get_missing_tzids()
    if missing:
        raise ValueError(f"no VTIMEZONE for {sorted(missing)}")
    data: bytes = cal.to_ical()
    return data


# --------------------------------------------------------------------- protos


def _event_time(value: datetime | date, zone: str) -> common_pb2.EventTime:
    # Imported here: the bench process (ICS only) never loads the protos.
    from almanac.v1 import common_pb2
    from google.protobuf import timestamp_pb2
    from google.type import date_pb2

    if isinstance(value, datetime):
        ts = timestamp_pb2.Timestamp()
        ts.FromDatetime(value.astimezone(UTC))
        return common_pb2.EventTime(date_time=ts, time_zone=zone)
    return common_pb2.EventTime(
        date=date_pb2.Date(year=value.year, month=value.month, day=value.day)
    )


def to_proto(spec: EventSpec) -> event_service_pb2.Event:
    """The same event as an ``almanac.v1.Event`` for ``CreateEvent``."""
    from almanac.v1 import event_service_pb2 as ev_pb

    event = ev_pb.Event(
        display_name=spec.summary,
        location=spec.location,
        description=spec.description,
        start=_event_time(spec.start, spec.zone),
        end=_event_time(spec.end, spec.zone),
        ical_uid=spec.uid,
    )
    if spec.rrule:
        event.recurrence.rrules.append(spec.rrule)
        event.recurrence.exdates.extend(_event_time(x, spec.zone) for x in spec.exdates)
    return event


# -------------------------------------------------------- the expected answer


def _as_utc(value: datetime | date) -> datetime:
    # All-day dates count as UTC days: neither server is told another zone
    # (Radicale has no calendar-timezone set; Almanac's primary calendar is UTC).
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.combine(value, time(), UTC)


@cache
def _rule(rrule: str, start: datetime | date) -> du_rrule.rrule:
    dtstart = start if isinstance(start, datetime) else datetime.combine(start, time())
    rule = du_rrule.rrulestr(rrule, dtstart=dtstart)
    assert isinstance(rule, du_rrule.rrule)
    return rule


def _occurrences(spec: EventSpec, lo: datetime, hi: datetime) -> Iterator[datetime | date]:
    """Starts (original values) of ``spec``'s occurrences that could overlap [lo, hi)."""
    if not spec.rrule:
        yield spec.start
        return
    rule = _rule(spec.rrule, spec.start)
    duration = _as_utc(spec.end) - _as_utc(spec.start)
    # Weekly rules keep the wall-clock time across DST (dateutil works on the
    # aware start's wall clock); all-day ones run on naive midnights.
    lo_q = lo - duration - timedelta(days=1)
    hi_q = hi + timedelta(days=1)
    if spec.all_day:
        lo_q, hi_q = lo_q.replace(tzinfo=None), hi_q.replace(tzinfo=None)
    excluded = set(spec.exdates)
    for dt in rule.between(lo_q, hi_q, inc=True):
        value: datetime | date = dt if not spec.all_day else dt.date()
        if value not in excluded:
            yield value


def expected_instances(
    specs: Iterable[EventSpec], lo: datetime = MONTH_START, hi: datetime = MONTH_END
) -> int:
    """Single events plus series instances overlapping [lo, hi), EXDATEs removed."""
    n = 0
    for spec in specs:
        duration = _as_utc(spec.end) - _as_utc(spec.start)
        for start in _occurrences(spec, lo, hi):
            s = _as_utc(start)
            if s < hi and s + duration > lo:
                n += 1
    return n


def series_starting_at(specs: Iterable[EventSpec], at: datetime = MONTH_END) -> int:
    """Instances of series that start exactly at ``at``."""
    return sum(
        1
        for spec in specs
        if spec.rrule
        for start in _occurrences(spec, at, at + timedelta(microseconds=1))
        if _as_utc(start) == at
    )
