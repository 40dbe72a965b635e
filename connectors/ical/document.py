"""A whole ICS document -> the events to import (all or nothing).

Passes, each recording problems by line (`problems.Problems`):

1. `lines.scan`: limits, encoding, line shape, BEGIN/END structure. Broken
   structure stops here: the rest would only report follow-on noise.
2. `build.build`: VEVENT and VTIMEZONE blocks -> icalendar components;
   values Almanac reads must parse.
3. `decode.vevent_to_event` per VEVENT, TZIDs resolved per VCALENDAR by
   `zones.ZoneResolver` (over the years that calendar uses each TZID).
4. Document rules: a UID is one master (or single event) plus exceptions
   with distinct RECURRENCE-IDs; an exception needs a UID.

Then either every problem is raised as one `InvalidArgument`, or all the
events are returned: never a partial result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from almanac.v1 import event_service_pb2 as ev_pb
from icalendar.parser import unescape_backslash
from icalendar.prop import vBroken

from . import times
from .build import build
from .decode import vevent_to_event
from .lines import Block, scan
from .problems import Located, Problems
from .zones import ZoneResolver

__all__ = ["ParsedCalendar", "from_ics"]

_TZID_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "RDATE", "EXDATE")


@dataclass(frozen=True, slots=True)
class ParsedCalendar:
    """The events of a document.

    ``events`` are single events and series masters, ``exceptions`` the
    modified instances (RECURRENCE-ID components: ``recurrence_type``
    INSTANCE, ``original_start`` set, ``ical_uid`` of their series), and
    ``skipped_count`` the components Almanac does not store (VTODO,
    VJOURNAL, VFREEBUSY, ...).
    """

    events: list[ev_pb.Event] = field(default_factory=list)
    exceptions: list[ev_pb.Event] = field(default_factory=list)
    skipped_count: int = 0


def _usage(vevents: list[Any]) -> dict[str, tuple[int, int]]:
    years: dict[str, tuple[int, int]] = {}
    for vevent in vevents:
        for name in _TZID_PROPERTIES:
            found = vevent.get(name)
            for prop in found if isinstance(found, list) else [found] if found else []:
                tzid = prop.params.get("TZID")
                if isinstance(prop, vBroken):
                    continue  # reported by build; it has no dates
                values = [v.dt for v in prop.dts] if hasattr(prop, "dts") else [prop.dt]
                for value in values:
                    if tzid and isinstance(value, date):
                        low, high = years.get(str(tzid), (value.year, value.year))
                        years[str(tzid)] = (min(low, value.year), max(high, value.year))
    return years


class _Importer:
    def __init__(self, default_zone: str) -> None:
        self.default_zone = default_zone
        self.located = Located()
        self.problems = Problems(self.located.line_of)
        self.events: list[tuple[ev_pb.Event, int]] = []
        self.exceptions: list[tuple[ev_pb.Event, int]] = []
        self.skipped = 0

    def calendar(self, block: Block) -> None:
        vevents: list[Any] = []
        vtimezones: dict[str, Any] = {}
        lines: dict[str, int] = {}
        for child in block.children:
            if child.name == "VEVENT":
                vevents.append(build(child, self.located, self.problems))
            elif child.name == "VTIMEZONE":
                tzid = next(
                    (unescape_backslash(p.raw) for p in child.props if p.name == "TZID"), None
                )
                if tzid is None:
                    self.problems.add(child.line, "VTIMEZONE without TZID")
                elif tzid not in vtimezones:  # the first definition counts
                    vtimezones[tzid] = build(child, self.located, self.problems)
                    lines[tzid] = child.line
            else:
                self.skipped += 1
        zones = ZoneResolver(vtimezones, lines=lines, usage=_usage(vevents))
        for vevent in vevents:
            event = vevent_to_event(
                vevent, default_zone=self.default_zone, zones=zones, problems=self.problems
            )
            line = self.located.line_of(vevent) or 0
            if event.recurrence_type == ev_pb.RECURRENCE_TYPE_INSTANCE:
                if not event.ical_uid:
                    self.problems.add(line, "a VEVENT with RECURRENCE-ID must have a UID")
                self.exceptions.append((event, line))
            else:
                self.events.append((event, line))

    def check_uids(self) -> None:
        masters: dict[str, tuple[ev_pb.Event, int]] = {}
        for event, line in self.events:
            if not event.ical_uid:
                continue  # the service generates one
            first = masters.setdefault(event.ical_uid, (event, line))
            if first[1] != line:
                self.problems.add(
                    line,
                    f"another VEVENT with UID {event.ical_uid!r} (first at line {first[1]});"
                    " only modified instances (with RECURRENCE-ID) may share a UID",
                )
        seen: dict[tuple[str, bytes], int] = {}
        for event, line in self.exceptions:
            master = masters.get(event.ical_uid)
            if master is not None and times.kind(master[0].start):
                # Matched against instances, so in the series' own terms.
                event.original_start.CopyFrom(
                    times.conform(event.original_start, master[0].start, self.default_zone)
                )
            key = (event.ical_uid, event.original_start.SerializeToString(deterministic=True))
            first_line = seen.setdefault(key, line)
            if first_line != line:
                self.problems.add(
                    line,
                    f"a second VEVENT for the same instance of UID {event.ical_uid!r}"
                    f" (first at line {first_line})",
                )


def from_ics(data: bytes, *, default_zone: str) -> ParsedCalendar:
    """Parse an ICS document into events, or raise InvalidArgument.

    ``default_zone`` (the importing calendar's IANA zone) is where floating
    times are observed when one must meet an instant; floating values stay
    floating and UTC values stay UTC. Raises ValueError if it is unknown.
    """
    times.zone(default_zone)  # UnknownZone is a ValueError: a caller bug
    importer = _Importer(default_zone)
    scanned = scan(data, importer.problems)
    if scanned.structural:
        importer.problems.raise_if_any()
    for block in scanned.calendars:
        importer.calendar(block)
    importer.check_uids()
    importer.problems.raise_if_any()
    return ParsedCalendar(
        events=[event for event, _ in importer.events],
        exceptions=[event for event, _ in importer.exceptions],
        skipped_count=importer.skipped,
    )
