"""Event -> VEVENT, and a calendar's events -> one VCALENDAR document.

The property table (proto field <-> iCalendar) is in the package docstring;
`rfc` holds the value tables. Times go through `times`, people through
`people`, reminders through `alarms`.

The document is written so that other readers list the instances Almanac
lists:

* no X-WR-TIMEZONE of Almanac's own (readers that honour it, as Google
  does, would move floating and UTC series); an imported document's own
  calendar properties are written again when given (``header``);
* a cancelled exception becomes an EXDATE of its series (readers that
  ignore STATUS on an override would show the instance again);
* an exception that only gives an RDATE instance its own length is an
  RDATE;VALUE=PERIOD again (`future`);
* UNTIL of a zoned series is in UTC (RFC 5545 section 3.3.10 "MUST");
* an event read with a custom VTIMEZONE (`customzone`) is written with
  that VTIMEZONE and its wall-clock times again.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from icalendar import Event
from icalendar.prop import vDDDLists, vDDDTypes, vUri

from connectors.errors import InvalidArgument
from connectors.recurrence import RRuleError, parse_rrule
from connectors.recurrence.rules import format_until

from . import times
from .alarms import reminder_to_valarm
from .colors import css_name
from .customzone import KEY as ZONE_KEY
from .customzone import CustomZone
from .people import attendee_to_ical, organizer_to_ical
from .rfc import CLASS, STATUS, TRANSP_OPAQUE, TRANSP_TRANSPARENT, X
from .values import TextParameters, TextValue, categories_value, clean_text, recur_text

__all__ = ["Zones", "event_to_vevent", "utc_until"]

_TEXT_FIELDS = (("display_name", "SUMMARY"), ("description", "DESCRIPTION"),
                ("location", "LOCATION"), ("event_type", X.EVENT_TYPE))  # fmt: skip


_UNTIL = re.compile(r"(?i)(^|;)UNTIL=([0-9TZ]+)")
# Custom zones (by stand-in IANA name) of the document being written.
Zones = dict[str, CustomZone]


def _value(t: common_pb2.EventTime, zones: Zones) -> tuple[date | datetime, str | None]:
    custom = zones.get(t.time_zone) if times.kind(t) == "date_time" else None
    if custom is not None:
        wall = times.to_datetime(t.date_time).astimezone(custom.info)
        return wall.replace(tzinfo=None), custom.tzid
    return times.to_ical_value(t)


def _time(t: common_pb2.EventTime, zones: Zones) -> vDDDTypes:
    value, tzid = _value(t, zones)
    prop = vDDDTypes(value)
    if tzid:
        prop.params["TZID"] = tzid
    return prop


def _time_list(
    t: common_pb2.EventTime, zones: Zones, end: common_pb2.EventTime | None = None
) -> vDDDLists:
    """One RDATE/EXDATE value; with ``end``, an RDATE PERIOD."""
    value, tzid = _value(t, zones)
    prop = vDDDLists([(value, _value(end, zones)[0]) if end is not None else value])
    if tzid:
        prop.params["TZID"] = tzid
    if end is not None:
        prop.params["VALUE"] = "PERIOD"
    elif not isinstance(value, datetime):
        prop.params["VALUE"] = "DATE"  # vDDDLists does not say so itself
    return prop


def utc_until(rule: str, start: common_pb2.EventTime) -> str:
    """The rule with UNTIL in the form RFC 5545 section 3.3.10 requires for
    ``start``: UTC for a zoned start, a DATE for a DATE start (a local
    UNTIL is read in the start's zone, a DATE one through that local day,
    as the expander reads them)."""
    found = _UNTIL.search(rule)
    if found is None or times.kind(start) not in ("date_time", "date"):
        return rule
    try:
        until = parse_rrule(rule).until
    except RRuleError:
        return rule
    if until is None:
        return rule
    fixed: date | datetime
    if times.kind(start) == "date":
        fixed = until.astimezone(UTC).date() if isinstance(until, datetime) else until
    elif isinstance(until, datetime) and until.tzinfo is not None:
        return rule
    else:
        zone = times.zone(start.time_zone or "UTC")
        if isinstance(until, datetime):
            fixed = until.replace(tzinfo=zone)
        else:
            fixed = datetime.combine(until + timedelta(days=1), time(), zone) - timedelta(seconds=1)
    text = format_until(fixed)
    return rule[: found.start(2)] + text + rule[found.end(2) :]


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


def _times(vevent: Any, event: ev_pb.Event, master: ev_pb.Event | None, extra: _Extra) -> None:
    start, floating, zones = event.start, extra.floating, extra.zones
    vevent.add("DTSTART", _time(start, zones))
    end = event.end if times.kind(event.end) else _default_end(start)
    if times.kind(end) != times.kind(start):
        end = times.conform(end, start, floating)  # same kind; a zone of its own is fine
    vevent.add("DTEND", _time(end, zones))
    if event.HasField("original_start") and times.kind(event.original_start):
        # RECURRENCE-ID has the value type of the master's DTSTART.
        like = master.start if master is not None and times.kind(master.start) else None
        original = event.original_start
        vevent.add(
            "RECURRENCE-ID",
            _time(times.conform(original, like, floating) if like else original, zones),
        )
    if not event.HasField("recurrence"):
        return
    for index, rule in enumerate(event.recurrence.rrules):
        try:
            vevent.add("RRULE", recur_text(utc_until(rule, start)))
        except ValueError as exc:
            raise InvalidArgument(
                violations=[(f"recurrence.rrules[{index}]", f"invalid RRULE {rule!r}: {exc}")]
            ) from exc
    for rdate in event.recurrence.rdates:
        rdate = times.conform(rdate, start, floating)
        period_end = extra.periods.get(rdate.SerializeToString(deterministic=True))
        vevent.add("RDATE", _time_list(rdate, zones, period_end))
    for value in [*event.recurrence.exdates, *extra.exdates]:
        vevent.add("EXDATE", _time_list(times.conform(value, start, floating), zones))


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
        if prop.key == ZONE_KEY:
            continue  # written as the VTIMEZONE itself (to_ics)
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


@dataclass(frozen=True)
class _Extra:
    """What the document around an event adds to its VEVENT."""

    floating: str = "UTC"
    zones: Zones = dataclasses.field(default_factory=dict)
    # RDATE start (serialized EventTime) -> its PERIOD end.
    periods: dict[bytes, common_pb2.EventTime] = dataclasses.field(default_factory=dict)
    exdates: tuple[common_pb2.EventTime, ...] = ()


def event_to_vevent(
    event: ev_pb.Event,
    *,
    master: ev_pb.Event | None = None,
    floating_zone: str = "UTC",
    now: datetime | None = None,
    zones: Zones | None = None,
    periods: dict[bytes, common_pb2.EventTime] | None = None,
    exdates: Sequence[common_pb2.EventTime] = (),
) -> Any:
    """The icalendar ``Event`` for one event, series master or exception.

    ``master`` is the series of an exception (its RECURRENCE-ID takes the
    master's value type); ``floating_zone`` is where floating and zoned
    times meet when one must become the other; ``now`` is the DTSTAMP of
    events without create/update times. Zoned times are naive values with a
    TZID parameter. ``zones`` are custom zones by stand-in name (their own
    TZID and wall clock are written), ``periods`` RDATE PERIOD ends by
    serialized start, ``exdates`` extra EXDATEs (cancelled exceptions).
    Raises InvalidArgument naming the bad field.
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
    extra = _Extra(floating_zone, zones or {}, periods or {}, tuple(exdates))
    _times(vevent, event, master, extra)
    _scalars(vevent, event)
    _related(vevent, event)
    return vevent
