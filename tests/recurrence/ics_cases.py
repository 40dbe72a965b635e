"""Conformance cases: ICS files in tests/data/recurrence, expanded twice.

Each file holds one VEVENT series and, as VCALENDAR x-properties, its test
parameters:

* ``X-ALMANAC-WINDOW-START`` / ``X-ALMANAC-WINDOW-END`` (UTC) -- the query,
* ``X-ALMANAC-FLOATING-ZONE`` -- the calendar zone for all-day and floating
  series (default UTC),
* ``X-ALMANAC-EXPECT-COUNT`` -- how many instances the window must hold (a
  guard against a case that silently tests nothing),
* ``X-ALMANAC-ADJUST`` -- deliberate, RFC-backed differences from
  recurring-ical-events that the test applies to *its* output (see
  `rie_spans`); ``manual`` keeps the file out of the generic comparison (a
  dedicated test in test_rfc_deviations.py covers it).

The expected side never touches connectors.recurrence: it is
recurring-ical-events plus the plain datetime arithmetic below.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from almanac.v1 import common_pb2, event_service_pb2

DATA = Path(__file__).resolve().parent.parent / "data" / "recurrence"

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class Case:
    name: str
    calendar: icalendar.Calendar
    event: icalendar.Event
    window_start: datetime
    window_end: datetime
    floating_zone: tzinfo
    expect_count: int | None
    adjust: frozenset[str]


def load_case(path: Path) -> Case:
    cal = icalendar.Calendar.from_ical(path.read_bytes())
    events = cal.walk("VEVENT")
    assert len(events) == 1, f"{path.name}: one VEVENT per file"

    def prop(name: str) -> str | None:
        value = cal.get(name)
        return None if value is None else str(value)

    count = prop("X-ALMANAC-EXPECT-COUNT")
    adjust = prop("X-ALMANAC-ADJUST") or ""
    return Case(
        name=path.stem,
        calendar=cal,
        event=events[0],
        window_start=_utc(prop("X-ALMANAC-WINDOW-START")),
        window_end=_utc(prop("X-ALMANAC-WINDOW-END")),
        floating_zone=ZoneInfo(prop("X-ALMANAC-FLOATING-ZONE") or "UTC"),
        expect_count=None if count is None else int(count),
        adjust=frozenset(a.strip() for a in adjust.split(",") if a.strip()),
    )


def all_cases() -> list[Path]:
    return sorted(DATA.glob("*.ics"))


def _utc(text: str | None) -> datetime:
    assert text is not None and text.endswith("Z"), "window bounds are UTC"
    return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


# --------------------------------------------------------------- expected side


def instant(value: date | datetime, floating_zone: tzinfo) -> datetime:
    """RFC 5545 §3.3.5 reading, written out independently of the code under test."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=floating_zone, fold=0).astimezone(UTC)
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=floating_zone).astimezone(UTC)


def nonexistent(value: date | datetime) -> bool:
    """Whether an aware datetime's wall clock does not exist in its zone."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        return False
    back = value.astimezone(UTC).astimezone(value.tzinfo)
    return back.replace(tzinfo=None) != value.replace(tzinfo=None)


def rie_raw(case: Case) -> list[tuple[Any, Any]]:
    """recurring-ical-events' (DTSTART, DTEND) values around the window."""
    slack = timedelta(days=3)
    comps = recurring_ical_events.of(case.calendar).between(
        case.window_start - slack, case.window_end + slack
    )
    return [(c["DTSTART"].dt, c["DTEND"].dt) for c in comps]


def master_duration(case: Case) -> timedelta:
    """DTEND - DTSTART as instants (floating: as wall clocks)."""
    start = case.event["DTSTART"].dt
    end = case.event["DTEND"].dt if "DTEND" in case.event else start + case.event["DURATION"].dt
    if isinstance(start, datetime) and start.tzinfo is not None:
        return end.astimezone(UTC) - start.astimezone(UTC)
    return end - start


def rie_spans(case: Case, adjust: frozenset[str] | None = None) -> tuple[set[Span], set[str]]:
    """Expected spans in the window, and which declared adjustments mattered.

    * ``gap-duplicate``: drop an instance whose start wall clock does not
      exist when its shifted instant (RFC 5545 §3.3.5) is also another
      instance's start (§3.8.5.3 "Duplicate instances are ignored";
      recurring-ical-events lists that instant twice).
    * ``exact-duration``: a timed or floating instance ends exactly the
      master's duration after its start (RFC 5545 §3.8.5.3 "the same exact
      duration"); recurring-ical-events adds the duration on the wall clock.
    """
    adjust = case.adjust if adjust is None else adjust
    fz = case.floating_zone
    duration = master_duration(case)
    used: set[str] = set()
    out: set[Span] = set()
    raw = rie_raw(case)
    real = {instant(start, fz) for start, _ in raw if not nonexistent(start)}
    for start, end in raw:
        if "gap-duplicate" in adjust and nonexistent(start) and instant(start, fz) in real:
            used.add("gap-duplicate")
            continue
        s, e = instant(start, fz), instant(end, fz)
        if "exact-duration" in adjust and isinstance(start, datetime):
            if e != s + duration:
                used.add("exact-duration")
                e = s + duration
        if e > case.window_start and s < case.window_end:
            out.add((s, e))
    return out, used


# ---------------------------------------------------------- ICS -> Almanac proto


def event_time(value: date | datetime) -> common_pb2.EventTime:
    """An EventTime from an icalendar value, without the code under test."""
    out = common_pb2.EventTime()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            f = out.floating
            f.year, f.month, f.day = value.year, value.month, value.day
            f.hours, f.minutes, f.seconds = value.hour, value.minute, value.second
            return out
        key = getattr(value.tzinfo, "key", None) or (
            "UTC" if value.utcoffset() == timedelta(0) else None
        )
        assert key, f"unsupported tzinfo {value.tzinfo!r}"
        out.time_zone = key
        out.date_time.seconds = int(value.timestamp())
        return out
    out.date.year, out.date.month, out.date.day = value.year, value.month, value.day
    return out


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def to_proto(
    case: Case,
) -> tuple[common_pb2.EventTime, common_pb2.EventTime, event_service_pb2.Recurrence]:
    ev = case.event
    start = ev["DTSTART"].dt
    end = ev["DTEND"].dt if "DTEND" in ev else start + ev["DURATION"].dt
    rec = event_service_pb2.Recurrence()
    for rule in _list(ev.get("RRULE")):
        rec.rrules.append(rule.to_ical().decode())
    for name, target in (("RDATE", rec.rdates), ("EXDATE", rec.exdates)):
        for prop in _list(ev.get(name)):
            for item in prop.dts:
                target.append(event_time(item.dt))
    return event_time(start), event_time(end), rec
