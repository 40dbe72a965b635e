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

import warnings
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
from .people import attendee_from_ical, organizer_from_ical
from .problems import Problems
from .rfc import CLASS, STATUS, TRANSP_TRANSPARENT, X
from .values import text_of
from .zones import ZoneResolver

__all__ = ["vevent_to_event"]

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
        self, vevent: Any, default_zone: str, zones: ZoneResolver, problems: Problems
    ) -> None:
        self.vevent = vevent
        self.default_zone = default_zone
        self.zones = zones
        self.problems = problems

    def fail(self, where: Any, message: str) -> None:
        self.problems.at(where, message)

    def broken(self, prop: Any) -> bool:
        """Report a value that did not parse (icalendar keeps a vBroken)."""
        if isinstance(prop, vBroken):
            self.fail(prop, invalid_value(prop))
            return True
        return False

    def times(self, prop: Any) -> list[common_pb2.EventTime]:
        """Every value of a DATE/DATE-TIME(-list) property as EventTimes."""
        if self.broken(prop):
            return []
        tzid = prop.params.get("TZID")
        zone_name: str | None = None
        if hasattr(prop, "dts"):
            values = [getattr(v, "dt", v) for v in prop.dts]
        else:
            values = [prop.dt]
        # PERIOD values (RDATE;VALUE=PERIOD): Almanac keeps the start.
        values = [v[0] if isinstance(v, tuple) else v for v in values]
        if tzid and any(isinstance(v, datetime) for v in values):
            try:
                zone_name = self.zones.resolve(str(tzid))
            except times.UnknownZone as exc:
                self.fail(prop, str(exc))
                return []
        return [times.from_ical_value(v, zone_name) for v in values if isinstance(v, date)]

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
            rule = prop.to_ical().decode("ascii", "replace")
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
            self.fail(
                _first(self.vevent, "EXRULE"), "EXRULE (deprecated by RFC 5545) is not supported"
            )
        for name, target in (
            ("RDATE", event.recurrence.rdates),
            ("EXDATE", event.recurrence.exdates),
        ):
            for prop in _all(self.vevent, name):
                target.extend(times.conform(t, start, self.default_zone) for t in self.times(prop))

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
            event.categories.extend(str(c) for c in getattr(categories, "cats", [categories]))
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
        event.attendees.extend(
            attendee_from_ical(a) for a in _all(v, "ATTENDEE") if not self.broken(a)
        )
        for attach in _all(v, "ATTACH"):
            params = attach.params
            if str(params.get("VALUE", "URI")).upper() == "BINARY" or params.get("ENCODING"):
                continue  # inline content: Almanac keeps URLs only
            event.attachments.add(
                url=str(attach),
                mime_type=str(params.get("FMTTYPE", "")),
                display_name=str(params.get(X.FILENAME) or params.get("FILENAME") or ""),
                id=str(params.get(X.ID, "")),
            )
        for alarm in v.walk("VALARM"):
            reminder = valarm_to_reminder(
                alarm, start=event.start, end=event.end, floating_zone=self.default_zone
            )
            if reminder is not None:
                event.reminders.append(reminder)


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
    raised at the end as `InvalidArgument`.
    """
    own = problems is None
    problems = problems if problems is not None else Problems()
    reader = _Reader(vevent, default_zone, zones or ZoneResolver(), problems)
    event = ev_pb.Event()
    uid = _first(vevent, "UID")
    if uid is not None:
        event.ical_uid = text_of(uid).strip()
    start = reader.one_time("DTSTART")
    if start is None:
        if "DTSTART" not in vevent:
            reader.fail(vevent, "VEVENT has no DTSTART")
        if own:
            problems.raise_if_any()
        return event
    event.start.CopyFrom(start)
    event.all_day = times.kind(start) == "date"
    event.end.CopyFrom(reader.end(start))
    reader.scalar(event)
    reader.related(event)
    reader.recurrence(event)
    recurrence_id = _first(vevent, "RECURRENCE-ID")
    if recurrence_id is not None:
        if str(recurrence_id.params.get("RANGE", "")).upper() == "THISANDFUTURE":
            reader.fail(recurrence_id, "RECURRENCE-ID;RANGE=THISANDFUTURE is not supported")
        original = reader.one_time("RECURRENCE-ID")
        if original is not None:
            event.original_start.CopyFrom(original)
        event.recurrence_type = ev_pb.RECURRENCE_TYPE_INSTANCE
    elif event.recurrence.rrules or event.recurrence.rdates:
        event.recurrence_type = ev_pb.RECURRENCE_TYPE_MASTER
    else:
        event.recurrence_type = ev_pb.RECURRENCE_TYPE_SINGLE
    if own:
        problems.raise_if_any()
    return event
