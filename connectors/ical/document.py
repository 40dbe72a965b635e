"""A whole ICS document -> the events to import, and warnings.

Passes, each recording problems by line (`problems.Problems`):

1. `lines.scan`: limits, encoding, line shape, BEGIN/END structure. Broken
   structure stops here: the rest would only report follow-on noise.
2. `build.build`: VEVENT and VTIMEZONE blocks -> icalendar components;
   values Almanac reads must parse.
3. `decode.decode_vevent` per VEVENT, TZIDs resolved per VCALENDAR by
   `zones.ZoneResolver` (over the years that calendar uses each TZID).
4. Document rules: a UID is one master (or single event) plus exceptions
   with distinct RECURRENCE-IDs; an exception needs a UID. RDATE periods
   and this-and-future overrides become what Almanac stores (`future`).

A problem (the document breaks RFC 5545 in a way Almanac cannot read) is
raised, all of them as one `InvalidArgument` naming their lines: never a
partial result. A valid component Almanac cannot hold (`Unrepresentable`:
a non-Gregorian RSCALE, EXRULE) is left out and the rest imported; that
and every normalization (a duplicate attendee merged, a non-http(s) ATTACH
dropped) is a `ImportWarning` with its line in `ParsedCalendar.warnings`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from almanac.v1 import event_service_pb2 as ev_pb
from icalendar.parser import unescape_backslash
from icalendar.prop import vBroken

from . import times
from .build import build
from .decode import decode_vevent
from .future import period_exceptions, split_this_and_future
from .lines import Block, scan
from .problems import ImportWarning, Located, Problems, Unrepresentable, Warnings
from .zones import ZoneResolver

__all__ = ["HEADER_PROPERTIES", "ParsedCalendar", "from_ics"]

_TZID_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "RDATE", "EXDATE")
# Calendar properties kept from an imported document and written again by
# its export (`encode.to_ics(header=...)`), so that readers read the export
# as they read the original. Not VERSION/PRODID/CALSCALE (the exporter's
# own) nor METHOD (an export is not an iTIP message).
HEADER_PROPERTIES = frozenset(
    {
        "NAME", "DESCRIPTION", "COLOR", "REFRESH-INTERVAL", "SOURCE", "URL",
        "X-WR-CALNAME", "X-WR-CALDESC", "X-WR-TIMEZONE", "X-WR-RELCALID",
        "X-PUBLISHED-TTL", "X-APPLE-CALENDAR-COLOR",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ParsedCalendar:
    """The events of a document.

    ``events`` are single events and series masters, ``exceptions`` the
    modified instances (RECURRENCE-ID components: ``recurrence_type``
    INSTANCE, ``original_start`` set, ``ical_uid`` of their series), and
    ``skipped_count`` the components Almanac does not store (VTODO,
    VJOURNAL, VFREEBUSY, ...; VEVENTs it cannot hold are counted too),
    ``warnings`` what was normalized or left out (by line), and ``header``
    the document's own calendar properties (`HEADER_PROPERTIES`) as
    ``(name, raw value)``.
    """

    events: list[ev_pb.Event] = field(default_factory=list)
    exceptions: list[ev_pb.Event] = field(default_factory=list)
    skipped_count: int = 0
    warnings: list[ImportWarning] = field(default_factory=list)
    header: list[tuple[str, str]] = field(default_factory=list)


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
        self.notes = Warnings(self.located.line_of)
        self.events: list[tuple[ev_pb.Event, int]] = []
        self.exceptions: list[tuple[ev_pb.Event, int]] = []
        self.future: list[tuple[ev_pb.Event, int]] = []  # RANGE=THISANDFUTURE
        self.skipped = 0
        self.header: list[tuple[str, str]] = []

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
        if not self.header:
            self.header = [(p.name, p.raw) for p in block.props if p.name in HEADER_PROPERTIES]
        zones = ZoneResolver(vtimezones, lines=lines, usage=_usage(vevents))
        for vevent in vevents:
            self.vevent(vevent, zones)

    def vevent(self, vevent: Any, zones: ZoneResolver) -> None:
        line = self.located.line_of(vevent) or 0
        try:
            decoded = decode_vevent(
                vevent,
                default_zone=self.default_zone,
                zones=zones,
                problems=self.problems,
                notes=self.notes,
            )
        except Unrepresentable as exc:
            where = self.located.line_of(exc.where) or line
            self.notes.add(where, f"VEVENT at line {line} left out: {exc.message}")
            self.skipped += 1
            return
        event = decoded.event
        if event.recurrence_type == ev_pb.RECURRENCE_TYPE_INSTANCE:
            if not event.ical_uid:
                self.problems.add(line, "a VEVENT with RECURRENCE-ID must have a UID")
            target = self.future if decoded.this_and_future else self.exceptions
            target.append((event, line))
            return
        self.events.append((event, line))
        if decoded.periods and not event.ical_uid:
            # Period exceptions are tied to their series by UID.
            event.ical_uid = f"{uuid.uuid4()}@almanac.dev"
        if decoded.periods and times.kind(event.end):
            for exception in period_exceptions(event, decoded.periods, self.default_zone):
                self.exceptions.append((exception, line))

    def this_and_future(self) -> None:
        """Split each series at its RANGE=THISANDFUTURE overrides (`future`)."""
        masters = {event.ical_uid: event for event, _ in self.events if event.ical_uid}
        for override, line in sorted(self.future, key=lambda item: item[1]):
            master = masters.get(override.ical_uid)
            if master is None or not times.kind(override.original_start):
                self.exceptions.append((override, line))  # nothing to split here
                continue
            override.original_start.CopyFrom(
                times.conform(override.original_start, master.start, self.default_zone)
            )
            try:
                series, remains = split_this_and_future(master, override, self.default_zone)
            except ValueError as exc:
                self.problems.add(line, f"RECURRENCE-ID;RANGE=THISANDFUTURE: {exc}")
                continue
            self.events.append((series, line))
            if not remains:
                self.events = [(e, n) for e, n in self.events if e is not master]
            masters[override.ical_uid] = series
            self.notes.add(
                line,
                f"RANGE=THISANDFUTURE: the series continues as UID {series.ical_uid!r}",
            )

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
            if (
                master is not None
                and times.kind(master[0].start)
                and times.kind(event.original_start)
            ):
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
    importer.problems.raise_if_any()
    importer.this_and_future()
    importer.check_uids()
    importer.problems.raise_if_any()
    return ParsedCalendar(
        events=[event for event, _ in importer.events],
        exceptions=[event for event, _ in importer.exceptions],
        skipped_count=importer.skipped,
        warnings=importer.notes.items(),
        header=importer.header,
    )
