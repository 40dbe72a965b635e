"""A calendar's events -> one VCALENDAR document (see `encode` for what is
written so that other readers list the instances Almanac lists)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from icalendar import Calendar
from icalendar.prop import vUnknown

from connectors.errors import InvalidArgument

from . import times
from .colors import css_name
from .customzone import custom_zones_of
from .encode import Zones, event_to_vevent
from .rfc import PRODID, VERSION, X
from .values import TextValue
from .vtimezone import vtimezone

__all__ = ["to_ics"]

_TIME_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "RDATE", "EXDATE")
# VTIMEZONEs cover the years the calendar uses plus this many: a series
# goes on after its last written date (and the current rule is left open).
_ZONE_YEARS_AFTER = 2
# Fields an RDATE-period exception may differ in from its series and still
# be written back as an RDATE;VALUE=PERIOD.
_PERIOD_FIELDS = ("start", "end", "original_start", "recurrence", "recurrence_type", "name", "etag")


def _zone_years(vevents: Sequence[Any]) -> dict[str, tuple[int, int]]:
    years: dict[str, tuple[int, int]] = {}
    for vevent in vevents:
        for name in _TIME_PROPERTIES:
            found = vevent.get(name)
            for prop in found if isinstance(found, list) else [found] if found else []:
                tzid = prop.params.get("TZID")
                if not tzid:
                    continue
                values = [v.dt for v in prop.dts] if hasattr(prop, "dts") else [prop.dt]
                for value in values:
                    value = value[0] if isinstance(value, tuple) else value
                    if isinstance(value, date):
                        low, high = years.get(tzid, (value.year, value.year))
                        years[tzid] = (min(low, value.year), max(high, value.year))
    return years


def _calendar(calendar: cal_pb.Calendar, header: Sequence[tuple[str, str]]) -> Any:
    cal: Any = Calendar()
    cal.add("VERSION", VERSION)
    cal.add("PRODID", PRODID)
    cal.add("CALSCALE", "GREGORIAN")
    own = {name for name, _ in header}
    for name, raw in header:
        cal.add(name, vUnknown(raw))  # written as read: already escaped
    # No X-WR-TIMEZONE of Almanac's own: readers that honour it (Google)
    # would move floating and UTC series; an imported one is in `header`.
    extra = [
        (X.WR_CALNAME, calendar.display_name),
        ("NAME", calendar.display_name),  # RFC 7986
        (X.WR_CALDESC, calendar.description),
        ("DESCRIPTION", calendar.description),  # RFC 7986
    ]
    for name, text in extra:
        if text and name not in own:
            cal.add(name, TextValue(text))
    if calendar.color:
        css = css_name(calendar.color)
        if css and "COLOR" not in own:
            cal.add("COLOR", css)  # RFC 7986
        if X.APPLE_CALENDAR_COLOR not in own:
            cal.add(X.APPLE_CALENDAR_COLOR, TextValue(calendar.color))
    return cal


def _is_master(event: ev_pb.Event) -> bool:
    if event.recurrence_type == ev_pb.RECURRENCE_TYPE_INSTANCE:
        return False
    return bool(event.recurrence.rrules or event.recurrence.rdates)


def _key(t: common_pb2.EventTime) -> bytes:
    return t.SerializeToString(deterministic=True)


def _is_period(exception: ev_pb.Event, master: ev_pb.Event) -> bool:
    """An exception that only gives an RDATE instance its own length."""
    if _key(exception.start) != _key(exception.original_start):
        return False
    if _key(exception.original_start) not in {_key(t) for t in master.recurrence.rdates}:
        return False
    mine, theirs = ev_pb.Event(), ev_pb.Event()
    mine.CopyFrom(exception)
    theirs.CopyFrom(master)
    for name in _PERIOD_FIELDS:
        mine.ClearField(name)  # type: ignore[arg-type]
        theirs.ClearField(name)  # type: ignore[arg-type]
    return mine == theirs


class _Plan:
    """Which events become VEVENTs, and what masters take from exceptions."""

    def __init__(self, events: Sequence[ev_pb.Event], floating: str) -> None:
        self.masters = {e.ical_uid: e for e in events if e.ical_uid and _is_master(e)}
        self.exdates: dict[str, list[common_pb2.EventTime]] = {}
        self.periods: dict[str, dict[bytes, common_pb2.EventTime]] = {}
        self.written: list[tuple[int, ev_pb.Event]] = []
        for index, event in enumerate(events):
            master = None if _is_master(event) else self.masters.get(event.ical_uid)
            if master is None or not times.kind(event.original_start):
                self.written.append((index, event))
            elif event.status == ev_pb.EVENT_STATUS_CANCELLED:
                # An EXDATE: readers that ignore STATUS on an override
                # would otherwise show the cancelled instance again.
                self.exdates.setdefault(master.ical_uid, []).append(event.original_start)
            elif _is_period(event, master):
                ends = self.periods.setdefault(master.ical_uid, {})
                original = times.conform(event.original_start, master.start, floating)
                ends[_key(original)] = times.conform(event.end, master.end, floating)
            else:
                self.written.append((index, event))


def to_ics(
    calendar: cal_pb.Calendar,
    events: Sequence[ev_pb.Event],
    *,
    header: Sequence[tuple[str, str]] = (),
) -> bytes:
    """An RFC 5545 document: the calendar, a VTIMEZONE for every zone used,
    and one VEVENT per event (masters, single events and exceptions).

    ``header`` is an imported document's own calendar properties
    (`ParsedCalendar.header`), written again as they were.
    """
    floating = calendar.time_zone or "UTC"
    try:
        times.zone(floating)
    except times.UnknownZone as exc:
        raise InvalidArgument(violations=[("calendar.time_zone", str(exc))]) from exc
    cal = _calendar(calendar, header)
    zones: Zones = custom_zones_of(list(events))
    plan = _Plan(events, floating)
    now = datetime.now(UTC)
    vevents: list[Any] = []
    violations: list[tuple[str, str]] = []
    for index, event in plan.written:
        master = None if _is_master(event) else plan.masters.get(event.ical_uid)
        try:
            vevent = event_to_vevent(
                event,
                master=master,
                floating_zone=floating,
                now=now,
                zones=zones,
                periods=plan.periods.get(event.ical_uid) if master is None else None,
                exdates=plan.exdates.get(event.ical_uid, []) if master is None else (),
            )
            vevents.append(vevent)
        except InvalidArgument as exc:
            violations += [(f"events[{index}].{field}", desc) for field, desc in exc.violations]
    if violations:
        raise InvalidArgument(violations=violations)
    custom = {zone.tzid: zone for zone in zones.values()}
    for zone_name, (first, last) in sorted(_zone_years(vevents).items()):
        if zone_name in custom:
            cal.add_component(Calendar.from_ical(_wrap(custom[zone_name].text)).walk()[1])
        else:
            cal.add_component(vtimezone(zone_name, first, last + _ZONE_YEARS_AFTER))
    for vevent in vevents:
        cal.add_component(vevent)
    return bytes(cal.to_ical())


def _wrap(vtimezone_text: str) -> str:
    return f"BEGIN:VCALENDAR\r\n{vtimezone_text}END:VCALENDAR\r\n"
