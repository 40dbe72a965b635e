"""The fake Graph's mailboxes: calendars, events, series and their views.

Events are kept as Graph JSON with the zone they were written in; a series
master keeps its exceptions (by original day) and ``cancelledOccurrences``.
Occurrences are computed (:mod:`.expand`) and have ids of their own,
``{master id}_{yyyymmdd}``, which a PATCH turns into an exception.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.connectors.graph.expand import instant, occurrences, zone_of

__all__ = [
    "Calendar",
    "Mailbox",
    "bounds",
    "new_id",
    "parse_wall",
    "public",
    "series_instances",
    "stamp",
    "wall_text",
]

_PUBLIC_OMIT = ("_exceptions",)


def new_id() -> str:
    return "AAMkAG" + uuid.uuid4().hex


def wall_text(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.0000000")


def parse_wall(text: str) -> datetime:
    return datetime.fromisoformat(text.split(".")[0])


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Calendar:
    id: str
    name: str
    color: str = "auto"
    default: bool = False
    change_key: str = field(default_factory=lambda: uuid.uuid4().hex)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # singles and masters


@dataclass
class Mailbox:
    user: str
    refresh_tokens: set[str]
    calendars: dict[str, Calendar] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)  # delta state
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)  # pending delta pages

    @property
    def address(self) -> str:
        return f"{self.user}@contoso.example"

    def default(self) -> Calendar:
        return next(c for c in self.calendars.values() if c.default)

    # -- finding events ---------------------------------------------------------

    def find(self, event_id: str) -> tuple[Calendar, dict[str, Any], str | None] | None:
        """(calendar, single or master, original day of an occurrence or None)."""
        master_id, _, day = event_id.rpartition("_")
        for cal in self.calendars.values():
            if event_id in cal.events:
                return cal, cal.events[event_id], None
            if master_id and master_id in cal.events and len(day) == 8:
                return cal, cal.events[master_id], f"{day[:4]}-{day[4:6]}-{day[6:]}"
        return None

    # -- views -------------------------------------------------------------------

    def view(self, cal: Calendar, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """calendarView: singles, occurrences and exceptions overlapping [start, end)."""
        found = []
        for event in cal.events.values():
            if event.get("type") == "seriesMaster":
                found += [i for i in series_instances(event, end) if _overlaps(i, start, end)]
            elif _overlaps(event, start, end):
                found.append(event)
        return found


def series_instances(master: dict[str, Any], until: datetime) -> list[dict[str, Any]]:
    zone = zone_of(
        master["recurrence"]["range"].get("recurrenceTimeZone") or master["start"]["timeZone"]
    )
    wall_start = parse_wall(master["start"]["dateTime"])
    length = parse_wall(master["end"]["dateTime"]) - wall_start
    last = until.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
    cancelled = {o.rsplit(".", 1)[-1] for o in master.get("cancelledOccurrences", [])}
    out = []
    for wall in occurrences(master["recurrence"], wall_start, master.get("isAllDay", False), last):
        day = wall.date().isoformat()
        if day in cancelled:
            continue
        exception = master["_exceptions"].get(day)
        out.append(exception or _occurrence(master, wall, length, zone))
    return out


def _occurrence(
    master: dict[str, Any], wall: datetime, length: timedelta, zone: Any
) -> dict[str, Any]:
    event = public(master)
    for key in ("recurrence", "cancelledOccurrences"):
        event.pop(key, None)
    event["id"] = f"{master['id']}_{wall:%Y%m%d}"
    event["type"] = "occurrence"
    event["seriesMasterId"] = master["id"]
    event["start"] = {"dateTime": wall_text(wall), "timeZone": master["start"]["timeZone"]}
    event["end"] = {"dateTime": wall_text(wall + length), "timeZone": master["end"]["timeZone"]}
    if master.get("isAllDay"):
        event["originalStart"] = f"{wall:%Y-%m-%d}T00:00:00Z"
    else:
        event["originalStart"] = instant(wall, zone).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def public(event: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in event.items() if k not in _PUBLIC_OMIT}


def bounds(event: dict[str, Any]) -> tuple[datetime, datetime]:
    """The UTC instants an event spans (an all-day one in UTC)."""
    out = []
    for key in ("start", "end"):
        value = event[key]
        zone = zone_of("UTC" if event.get("isAllDay") else value.get("timeZone") or "UTC")
        out.append(instant(parse_wall(value["dateTime"]), zone))
    return out[0], out[1]


def _overlaps(event: dict[str, Any], start: datetime, end: datetime) -> bool:
    first, last = bounds(event)
    return first < end and (last > start or (first == last and first >= start))
