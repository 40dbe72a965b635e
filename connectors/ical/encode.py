"""Event -> VEVENT, and a calendar's events -> one VCALENDAR document.

The property table (proto field <-> iCalendar) is in the package docstring;
`rfc` holds the value tables. Times go through `times`, people through
`people`, reminders through `alarms`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from icalendar import Calendar, Event
from icalendar.prop import vDDDLists, vDDDTypes, vUri

from connectors.errors import InvalidArgument

from . import times
from .alarms import reminder_to_valarm
from .colors import css_name
from .people import attendee_to_ical, organizer_to_ical
from .rfc import CLASS, PRODID, STATUS, TRANSP_OPAQUE, TRANSP_TRANSPARENT, VERSION, X
from .values import TextParameters, TextValue, categories_value, clean_text, recur_text
from .vtimezone import vtimezone

__all__ = ["event_to_vevent", "to_ics"]

_TEXT_FIELDS = (("display_name", "SUMMARY"), ("description", "DESCRIPTION"),
                ("location", "LOCATION"), ("event_type", X.EVENT_TYPE))  # fmt: skip
_TIME_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "RDATE", "EXDATE")
# VTIMEZONEs cover the years the calendar uses plus this many: a series
# goes on after its last written date (and the current rule is left open).
_ZONE_YEARS_AFTER = 2


def _time(t: common_pb2.EventTime) -> vDDDTypes:
    value, tzid = times.to_ical_value(t)
    prop = vDDDTypes(value)
    if tzid:
        prop.params["TZID"] = tzid
    return prop


def _time_list(t: common_pb2.EventTime) -> vDDDLists:
    value, tzid = times.to_ical_value(t)
    prop = vDDDLists([value])
    if tzid:
        prop.params["TZID"] = tzid
    if not isinstance(value, datetime):
        prop.params["VALUE"] = "DATE"  # vDDDLists does not say so itself
    return prop


def _default_end(start: common_pb2.EventTime) -> common_pb2.EventTime:
    # Almanac's API default: one hour, or one day for all-day events.
    if times.kind(start) == "date":
        return times.add_duration(start, timedelta(days=1))
    return times.add_duration(start, timedelta(hours=1))


def _uid(event: ev_pb.Event) -> str:
    if event.ical_uid:
        return event.ical_uid
    if event.name:
        # Stable across exports of the same event; Almanac sets ical_uid on
        # create, so this is only for events built in process.
        return f"{event.name.rsplit('/', 1)[-1]}@almanac.dev"
    return f"{uuid.uuid4()}@almanac.dev"


def _times(vevent: Any, event: ev_pb.Event, master: ev_pb.Event | None, floating: str) -> None:
    start = event.start
    vevent.add("DTSTART", _time(start))
    end = event.end if times.kind(event.end) else _default_end(start)
    if times.kind(end) != times.kind(start):
        end = times.conform(end, start, floating)  # same kind; a zone of its own is fine
    vevent.add("DTEND", _time(end))
    if event.HasField("original_start") and times.kind(event.original_start):
        # RECURRENCE-ID has the value type of the master's DTSTART.
        like = master.start if master is not None and times.kind(master.start) else None
        original = event.original_start
        vevent.add(
            "RECURRENCE-ID", _time(times.conform(original, like, floating) if like else original)
        )
    if not event.HasField("recurrence"):
        return
    for index, rule in enumerate(event.recurrence.rrules):
        try:
            vevent.add("RRULE", recur_text(rule))
        except ValueError as exc:
            raise InvalidArgument(
                violations=[(f"recurrence.rrules[{index}]", f"invalid RRULE {rule!r}: {exc}")]
            ) from exc
    for name, values in (("RDATE", event.recurrence.rdates), ("EXDATE", event.recurrence.exdates)):
        for value in values:
            vevent.add(name, _time_list(times.conform(value, start, floating)))


def _scalars(vevent: Any, event: ev_pb.Event) -> None:
    for field, name in _TEXT_FIELDS:
        text = getattr(event, field)
        if text:
            vevent.add(name, TextValue(text))
    klass = CLASS.to_ical(event.visibility)
    if klass:
        vevent.add("CLASS", klass)
    elif event.visibility == ev_pb.VISIBILITY_DEFAULT:
        vevent.add(X.VISIBILITY, TextValue(X.DEFAULT))
    vevent.add("TRANSP", TRANSP_TRANSPARENT if event.transparent else TRANSP_OPAQUE)
    status = STATUS.to_ical(event.status)
    if status:
        vevent.add("STATUS", status)
    if event.categories:
        vevent.add("CATEGORIES", categories_value(event.categories))
    if event.color:
        css = css_name(event.color)
        if css:
            vevent.add("COLOR", css)
        vevent.add(X.COLOR, TextValue(event.color))
    if event.HasField("use_default_reminders"):
        vevent.add(X.DEFAULT_REMINDERS, X.TRUE if event.use_default_reminders else X.FALSE)
    for prop in event.custom_properties:
        value = TextValue(prop.value)
        value.params = TextParameters({X.KEY: clean_text(prop.key)})
        if prop.HasField("private"):
            value.params[X.PRIVATE] = X.TRUE if prop.private else X.FALSE
        vevent.add(X.PROPERTY, value)


def _related(vevent: Any, event: ev_pb.Event) -> None:
    organizer = organizer_to_ical(event.organizer) if event.HasField("organizer") else None
    if organizer is not None:
        vevent.add("ORGANIZER", organizer)
    for attendee in event.attendees:
        vevent.add("ATTENDEE", attendee_to_ical(attendee))
    for attachment in event.attachments:
        value = vUri(clean_text(attachment.url).replace("\n", ""))
        value.params = TextParameters()
        if attachment.mime_type:
            value.params["FMTTYPE"] = clean_text(attachment.mime_type)
        if attachment.display_name:
            value.params[X.FILENAME] = clean_text(attachment.display_name)
        if attachment.id:
            value.params[X.ID] = clean_text(attachment.id)
        vevent.add("ATTACH", value)
    for reminder in event.reminders:
        vevent.add_component(
            reminder_to_valarm(reminder, title=event.display_name, organizer=event.organizer.email)
        )


def _bad_zones(event: ev_pb.Event) -> Iterator[tuple[str, str]]:
    named = [("start", event.start), ("end", event.end), ("original_start", event.original_start)]
    named += [(f"recurrence.rdates[{i}]", t) for i, t in enumerate(event.recurrence.rdates)]
    named += [(f"recurrence.exdates[{i}]", t) for i, t in enumerate(event.recurrence.exdates)]
    for path, t in named:
        if times.kind(t) == "date_time":
            try:
                times.zone(t.time_zone)
            except times.UnknownZone as exc:
                yield f"{path}.time_zone", str(exc)


def event_to_vevent(
    event: ev_pb.Event,
    *,
    master: ev_pb.Event | None = None,
    floating_zone: str = "UTC",
    now: datetime | None = None,
) -> Any:
    """The icalendar ``Event`` for one event, series master or exception.

    ``master`` is the series of an exception (its RECURRENCE-ID takes the
    master's value type); ``floating_zone`` is where floating and zoned
    times meet when one must become the other; ``now`` is the DTSTAMP of
    events without create/update times. Zoned times are naive values with a
    TZID parameter. Raises InvalidArgument naming the bad field.
    """
    if not times.kind(event.start):
        raise InvalidArgument(violations=[("start", "the event has no start")])
    bad_zones = list(_bad_zones(event))
    if bad_zones:
        raise InvalidArgument(violations=bad_zones)
    vevent: Any = Event()
    vevent.add("UID", TextValue(_uid(event)))
    stamp = event.update_time if event.HasField("update_time") else event.create_time
    has_stamp = event.HasField("update_time") or event.HasField("create_time")
    vevent.add("DTSTAMP", times.to_datetime(stamp) if has_stamp else now or datetime.now(UTC))
    if event.HasField("create_time"):
        vevent.add("CREATED", times.to_datetime(event.create_time))
    if event.HasField("update_time"):
        vevent.add("LAST-MODIFIED", times.to_datetime(event.update_time))
    _times(vevent, event, master, floating_zone)
    _scalars(vevent, event)
    _related(vevent, event)
    return vevent


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
                    if isinstance(value, date):
                        low, high = years.get(tzid, (value.year, value.year))
                        years[tzid] = (min(low, value.year), max(high, value.year))
    return years


def _calendar(calendar: cal_pb.Calendar) -> Any:
    cal: Any = Calendar()
    cal.add("VERSION", VERSION)
    cal.add("PRODID", PRODID)
    cal.add("CALSCALE", "GREGORIAN")
    if calendar.display_name:
        cal.add(X.WR_CALNAME, TextValue(calendar.display_name))
        cal.add("NAME", TextValue(calendar.display_name))  # RFC 7986
    if calendar.description:
        cal.add(X.WR_CALDESC, TextValue(calendar.description))
        cal.add("DESCRIPTION", TextValue(calendar.description))  # RFC 7986
    if calendar.time_zone:
        cal.add(X.WR_TIMEZONE, calendar.time_zone)
    if calendar.color:
        css = css_name(calendar.color)
        if css:
            cal.add("COLOR", css)  # RFC 7986
        cal.add(X.APPLE_CALENDAR_COLOR, TextValue(calendar.color))
    return cal


def _is_master(event: ev_pb.Event) -> bool:
    if event.recurrence_type == ev_pb.RECURRENCE_TYPE_INSTANCE:
        return False
    return bool(event.recurrence.rrules or event.recurrence.rdates)


def to_ics(calendar: cal_pb.Calendar, events: Sequence[ev_pb.Event]) -> bytes:
    """An RFC 5545 document: the calendar, a VTIMEZONE for every zone used,
    and one VEVENT per event (masters, single events and exceptions)."""
    floating = calendar.time_zone or "UTC"
    try:
        times.zone(floating)
    except times.UnknownZone as exc:
        raise InvalidArgument(violations=[("calendar.time_zone", str(exc))]) from exc
    cal = _calendar(calendar)
    masters = {e.ical_uid: e for e in events if e.ical_uid and _is_master(e)}
    now = datetime.now(UTC)
    vevents: list[Any] = []
    violations: list[tuple[str, str]] = []
    for index, event in enumerate(events):
        master = None if _is_master(event) else masters.get(event.ical_uid)
        try:
            vevents.append(event_to_vevent(event, master=master, floating_zone=floating, now=now))
        except InvalidArgument as exc:
            violations += [(f"events[{index}].{field}", desc) for field, desc in exc.violations]
    if violations:
        raise InvalidArgument(violations=violations)
    for zone_name, (first, last) in sorted(_zone_years(vevents).items()):
        cal.add_component(vtimezone(zone_name, first, last + _ZONE_YEARS_AFTER))
    for vevent in vevents:
        cal.add_component(vevent)
    return bytes(cal.to_ical())
