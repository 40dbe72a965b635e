"""One VEVENT -> Event (the reverse of `encode.event_to_vevent`).

Works on any icalendar ``Event``: one this package built from a file (with
line numbers for its problems) or one a CalDAV server returned.

Missing DTEND: RFC 5545 section 3.6.1 applies, not Almanac's API default.
A DATE start without DTEND or DURATION lasts one day and a DATE-TIME start
has zero duration (end = start): the file's author chose a point in time
(a deadline, a reminder-like entry), and the API's "one hour" default is a
convenience for callers that leave ``end`` out, not a statement about what
a file without DTEND means; importing it as an hour would block an hour of
free/busy time nobody asked for.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from dateutil.rrule import rrulestr
from icalendar.prop import vBroken

from . import times
from .alarms import valarm_to_reminder
from .build import invalid_value
from .colors import hex_from_css
from .customzone import CustomZone, zone_property
from .normalize import attachment, gregorian
from .people import attendee_from_ical, organizer_from_ical
from .problems import Problems, Unrepresentable, Warnings
from .rfc import CLASS, STATUS, TRANSP_TRANSPARENT, X
from .values import text_of
from .zones import ZoneResolver

__all__ = ["Decoded", "decode_vevent", "vevent_to_event"]


@dataclass
class Decoded:
    """One VEVENT read: the event and what the document importer needs
    besides it (RDATE periods, a this-and-future override, custom zones)."""

    event: ev_pb.Event
    # RDATE;VALUE=PERIOD values: (start, end), end of the period's own length.
    periods: list[tuple[common_pb2.EventTime, common_pb2.EventTime]] = dataclasses.field(
        default_factory=list
    )
    this_and_future: bool = False
    custom_zones: dict[str, CustomZone] = dataclasses.field(default_factory=dict)


_TEXT_FIELDS = (("SUMMARY", "display_name"), ("DESCRIPTION", "description"),
                ("LOCATION", "location"), (X.EVENT_TYPE, "event_type"))  # fmt: skip
_STAMPS = (("CREATED", "create_time"), ("LAST-MODIFIED", "update_time"))


def _all(component: Any, name: str) -> list[Any]:
    found = component.get(name)
    if found is None:
        return []
    return found if isinstance(found, list) else [found]


def _first(component: Any, name: str) -> Any:
    found = _all(component, name)
    return found[0] if found else None


def _flag(value: Any) -> bool | None:
    text = text_of(value).strip().upper()
    return True if text == X.TRUE else False if text == X.FALSE else None


class _Reader:
    def __init__(
        self,
        vevent: Any,
        default_zone: str,
        zones: ZoneResolver,
        problems: Problems,
        notes: Warnings,
    ) -> None:
        self.vevent = vevent
        self.default_zone = default_zone
        self.zones = zones
        self.problems = problems
        self.notes = notes
        self.decoded = Decoded(ev_pb.Event())

    def fail(self, where: Any, message: str) -> None:
        self.problems.at(where, message)

    def broken(self, prop: Any) -> bool:
        """Report a value that did not parse (icalendar keeps a vBroken)."""
        if isinstance(prop, vBroken):
            self.fail(prop, invalid_value(prop))
            return True
        return False

    def times(self, prop: Any, *, periods: bool = False) -> list[common_pb2.EventTime]:
        """Every value of a DATE/DATE-TIME(-list) property as EventTimes;
        with ``periods``, PERIOD values are also recorded with their end."""
        if self.broken(prop):
            return []
        tzid = prop.params.get("TZID")
        if hasattr(prop, "dts"):
            values = [getattr(v, "dt", v) for v in prop.dts]
        else:
            values = [prop.dt]
        zone: str | CustomZone | None = None
        if tzid and any(isinstance(v, datetime | tuple) for v in values):
            zone = self._zone(prop, str(tzid))
            if zone is None:
                return []
        found: list[common_pb2.EventTime] = []
        for value in values:
            if isinstance(value, tuple):  # PERIOD: (start, end or duration)
                start = self._time(value[0], zone)
                found.append(start)
                if periods:
                    self.decoded.periods.append((start, self._period_end(start, value[1], zone)))
            elif isinstance(value, date):
                found.append(self._time(value, zone))
        return found

    def _zone(self, prop: Any, tzid: str) -> str | CustomZone | None:
        try:
            return self.zones.resolve(tzid)
        except times.UnknownZone as exc:
            custom = self.zones.custom(tzid)
            if custom is None:
                self.fail(prop, str(exc))
                return None
            self.decoded.custom_zones[custom.standin] = custom
            return custom

    def _time(self, value: date, zone: str | CustomZone | None) -> common_pb2.EventTime:
        if isinstance(zone, CustomZone) and isinstance(value, datetime):
            at = value.replace(tzinfo=zone.info).astimezone(UTC)
            return times.from_ical_value(at.astimezone(times.zone(zone.standin)), zone.standin)
        return times.from_ical_value(value, zone if isinstance(zone, str) else None)

    def _period_end(
        self, start: common_pb2.EventTime, end: Any, zone: str | CustomZone | None
    ) -> common_pb2.EventTime:
        if isinstance(end, timedelta):
            return times.add_duration(start, end)
        return self._time(end, zone)

    def one_time(self, name: str) -> common_pb2.EventTime | None:
        prop = _first(self.vevent, name)
        if prop is None:
            return None
        found = self.times(prop)
        return found[0] if found else None

    def end(self, start: common_pb2.EventTime) -> common_pb2.EventTime:
        dtend, duration = _first(self.vevent, "DTEND"), _first(self.vevent, "DURATION")
        if dtend is not None and duration is not None:
            self.fail(duration, "DTEND and DURATION must not both be present")
        if dtend is not None:
            return self._dtend(dtend, start)
        if duration is not None and not self.broken(duration):
            delta = getattr(duration, "td", None)
            if delta is None:
                delta = getattr(duration, "dt", None)
            if not isinstance(delta, timedelta) or delta < timedelta(0):
                self.fail(duration, "DURATION must not be negative")
                return start
            return times.add_duration(start, delta)
        # RFC 5545 section 3.6.1 (see the module docstring).
        if times.kind(start) == "date":
            return times.add_duration(start, timedelta(days=1))
        return start

    def _dtend(self, prop: Any, start: common_pb2.EventTime) -> common_pb2.EventTime:
        found = self.times(prop)
        if not found:
            return start
        end = found[0]
        if (times.kind(end) == "date") != (times.kind(start) == "date"):
            self.fail(prop, "DTEND must have the same value type (DATE or DATE-TIME) as DTSTART")
            return start
        if times.kind(end) != times.kind(start):  # floating vs zoned: meet in one zone
            end = times.conform(end, start, self.default_zone)
        begin = times.instant(start, self.default_zone)
        finish = times.instant(end, self.default_zone)
        if finish < begin:
            self.fail(prop, "DTEND is before DTSTART")
            return start
        if finish == begin and times.kind(start) == "date":
            # Some producers write the last day, not the day after it.
            return times.add_duration(start, timedelta(days=1))
        return end

    def recurrence(self, event: ev_pb.Event) -> None:
        start = event.start
        naive_start = times.instant(start, self.default_zone).replace(tzinfo=None)
        for prop in _all(self.vevent, "RRULE"):
            if self.broken(prop):
                continue
            try:
                rule = gregorian(prop.to_ical().decode("ascii", "replace"))
            except ValueError as exc:
                raise Unrepresentable(prop, str(exc)) from exc
            if "COUNT" in prop and "UNTIL" in prop:
                self.fail(prop, "RRULE: COUNT and UNTIL must not both be present")
                continue
            try:
                with warnings.catch_warnings():
                    # dateutil warns where RFC 5545 forbids; the error is ours.
                    warnings.simplefilter("ignore")
                    rrulestr(rule, dtstart=naive_start, ignoretz=True)
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                self.fail(prop, f"RRULE: invalid rule {rule!r} ({exc})")
                continue
            event.recurrence.rrules.append(rule)
        if _all(self.vevent, "EXRULE"):
            raise Unrepresentable(
                _first(self.vevent, "EXRULE"), "EXRULE (removed by RFC 5545) is not supported"
            )
        for name, target in (
            ("RDATE", event.recurrence.rdates),
            ("EXDATE", event.recurrence.exdates),
        ):
            for prop in _all(self.vevent, name):
                found = self.times(prop, periods=name == "RDATE")
                target.extend(times.conform(t, start, self.default_zone) for t in found)

    def scalar(self, event: ev_pb.Event) -> None:
        v = self.vevent
        for name, field in _TEXT_FIELDS:
            value = _first(v, name)
            if value is not None:
                setattr(event, field, text_of(value))
        for name, field in _STAMPS:
            value = _first(v, name)
            if value is not None and not self.broken(value) and isinstance(value.dt, datetime):
                dt = value.dt if value.dt.tzinfo else value.dt.replace(tzinfo=UTC)
                getattr(event, field).CopyFrom(times.timestamp(dt))
        klass = _first(v, "CLASS")
        visibility = CLASS.from_ical(text_of(klass)) if klass is not None else None
        if visibility is not None:
            event.visibility = visibility
        elif text_of(_first(v, X.VISIBILITY) or "").strip().upper() == X.DEFAULT:
            event.visibility = ev_pb.VISIBILITY_DEFAULT
        event.transparent = text_of(_first(v, "TRANSP") or "").strip().upper() == TRANSP_TRANSPARENT
        status = _first(v, "STATUS")
        found = STATUS.from_ical(text_of(status)) if status is not None else None
        if found is not None:
            event.status = found
        for categories in _all(v, "CATEGORIES"):
            # An empty CATEGORIES (or empty item) names no category: dropped.
            names = [str(c) for c in getattr(categories, "cats", [categories])]
            event.categories.extend(c for c in names if c)
        # The exact value Almanac wrote wins over the CSS name next to it.
        exact, named = _first(v, X.COLOR), _first(v, "COLOR")
        if exact is not None:
            event.color = text_of(exact)
        elif named is not None:
            event.color = hex_from_css(text_of(named)) or ""
        defaults = _first(v, X.DEFAULT_REMINDERS)
        if defaults is not None and _flag(defaults) is not None:
            event.use_default_reminders = bool(_flag(defaults))
        for prop in _all(v, X.PROPERTY):
            entry = event.custom_properties.add(key=str(prop.params.get(X.KEY, "")))
            entry.value = text_of(prop)
            private = str(prop.params.get(X.PRIVATE, "")).upper()
            if private in (X.TRUE, X.FALSE):
                entry.private = private == X.TRUE

    def related(self, event: ev_pb.Event) -> None:
        v = self.vevent
        organizer = _first(v, "ORGANIZER")
        if organizer is not None and not self.broken(organizer):
            event.organizer.CopyFrom(organizer_from_ical(organizer))
        seen: dict[str, int] = {}
        for prop in _all(v, "ATTENDEE"):
            if self.broken(prop):
                continue
            attendee = attendee_from_ical(prop)
            email = attendee.email.strip().lower()
            if email in seen:
                # The first entry wins; a later one adds only what it lacks.
                merged = event.attendees[seen[email]]
                for name in ("display_name", "comment", "id"):
                    if not getattr(merged, name) and getattr(attendee, name):
                        setattr(merged, name, getattr(attendee, name))
                self.notes.at(prop, f"ATTENDEE {attendee.email} is listed twice; merged")
                continue
            seen[email] = len(event.attendees)
            event.attendees.append(attendee)
        for attach in _all(v, "ATTACH"):
            self._attachment(event, attach)
        for alarm in v.walk("VALARM"):
            reminder = valarm_to_reminder(
                alarm, start=event.start, end=event.end, floating_zone=self.default_zone
            )
            if reminder is not None:
                event.reminders.append(reminder)

    def _attachment(self, event: ev_pb.Event, attach: Any) -> None:
        kept, dropped = attachment(attach)
        if kept is not None:
            event.attachments.append(kept)
        if dropped is not None:
            self.notes.at(attach, dropped)

    def keep_zones(self, event: ev_pb.Event) -> None:
        """Keep the document's own VTIMEZONE with the event (`customzone`)."""
        kept, dropped = zone_property(self.decoded.custom_zones)
        if kept is not None:
            event.custom_properties.append(kept)
        if dropped is not None:
            self.notes.at(self.vevent, dropped)


def decode_vevent(
    vevent: Any,
    *,
    default_zone: str,
    zones: ZoneResolver,
    problems: Problems,
    notes: Warnings,
) -> Decoded:
    """One VEVENT read for a document import (see `Decoded`).

    Raises `Unrepresentable` for a component Almanac cannot hold.
    """
    reader = _Reader(vevent, default_zone, zones, problems, notes)
    event = reader.decoded.event
    uid = _first(vevent, "UID")
    if uid is not None:
        event.ical_uid = text_of(uid).strip()
    start = reader.one_time("DTSTART")
    if start is None:
        if "DTSTART" not in vevent:
            reader.fail(vevent, "VEVENT has no DTSTART")
        return reader.decoded
    event.start.CopyFrom(start)
    event.all_day = times.kind(start) == "date"
    event.end.CopyFrom(reader.end(start))
    reader.scalar(event)
    reader.related(event)
    reader.recurrence(event)
    recurrence_id = _first(vevent, "RECURRENCE-ID")
    if recurrence_id is not None:
        if str(recurrence_id.params.get("RANGE", "")).upper() == "THISANDFUTURE":
            reader.decoded.this_and_future = True
        original = reader.one_time("RECURRENCE-ID")
        if original is not None:
            event.original_start.CopyFrom(original)
        event.recurrence_type = ev_pb.RECURRENCE_TYPE_INSTANCE
    elif event.recurrence.rrules or event.recurrence.rdates:
        event.recurrence_type = ev_pb.RECURRENCE_TYPE_MASTER
    else:
        event.recurrence_type = ev_pb.RECURRENCE_TYPE_SINGLE
    reader.keep_zones(event)
    return reader.decoded


def vevent_to_event(
    vevent: Any,
    *,
    default_zone: str = "UTC",
    zones: ZoneResolver | None = None,
    problems: Problems | None = None,
) -> ev_pb.Event:
    """The Event of one VEVENT.

    ``default_zone`` is where floating times are observed, when one must be
    compared with or turned into an instant (a floating DTSTART with a zoned
    DTEND, an absolute alarm). ``zones`` resolves TZIDs (default: names
    only, no VTIMEZONEs). Problems are added to ``problems`` if given, else
    raised at the end as `InvalidArgument`; so is a VEVENT Almanac cannot
    hold (a document import leaves those out with a warning instead).
    RDATE periods keep their start only here (`decode_vevent` has them).
    """
    own = problems is None
    problems = problems if problems is not None else Problems()
    try:
        decoded = decode_vevent(
            vevent,
            default_zone=default_zone,
            zones=zones or ZoneResolver(),
            problems=problems,
            notes=Warnings(problems.locate),
        )
    except Unrepresentable as exc:
        problems.at(exc.where, exc.message)
        decoded = Decoded(ev_pb.Event())
    if own:
        problems.raise_if_any()
    return decoded.event
