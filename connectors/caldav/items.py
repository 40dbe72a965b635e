"""Calendar object resources <-> `RemoteItem`: one resource per UID (RFC 4791 4.1).

Written with the ICS export (`connectors.ical.to_ics`): the master (or the
single event) first, then its exceptions; cancelled instances become
EXDATEs. RRULE/RDATE/EXDATE are stripped from RECURRENCE-ID components
(Radicale answers 400 "Overwritten recurrence with RRULESET" otherwise).

Read with the ICS import (`connectors.ical.from_ics`). What Almanac does not
map (GEO, PRIORITY, URL, other clients' X- properties, non-alarm
subcomponents, ...) is kept in the main event's ``raw`` as
``{"unmapped": "<content lines>"}`` and written back on the next write of
the item, so another client's data survives Almanac's edits.

The item's etag is ``<ETag> <href>``: the mirror keeps it opaque and gives
it back on update and delete, which is how a UID finds its resource again
(another client may have named the resource anything).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import quote, unquote

from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import struct_pb2
from icalendar import Calendar, Component

from connectors import errors
from connectors.ical import from_ics, to_ics
from connectors.remote import RemoteItem

from .errors import malformed

__all__ = ["href_for", "item_etag", "own_uid", "parse_item", "serialize_item", "split_etag"]

# Properties (and components) Almanac reads into Event fields, or writes.
_MAPPED = frozenset(
    {
        "UID",
        "SUMMARY",
        "DESCRIPTION",
        "LOCATION",
        "DTSTART",
        "DTEND",
        "DURATION",
        "ORGANIZER",
        "ATTENDEE",
        "RRULE",
        "RDATE",
        "EXDATE",
        "EXRULE",
        "RECURRENCE-ID",
        "ATTACH",
        "CLASS",
        "TRANSP",
        "STATUS",
        "CATEGORIES",
        "COLOR",
        "CREATED",
        "LAST-MODIFIED",
        "DTSTAMP",
        "VALARM",
    }
)
_RULES = ("RRULE", "RDATE", "EXDATE", "EXRULE")
_SAFE = re.compile(r"[A-Za-z0-9@._-]{1,120}")


def href_for(collection: str, uid: str) -> str:
    """Where a new item goes: ``<uid>.ics`` when the UID is a safe file name."""
    name = uid if _SAFE.fullmatch(uid) else hashlib.sha256(uid.encode()).hexdigest()[:40]
    return f"{collection.rstrip('/')}/{quote(name)}.ics"


def own_uid(href: str) -> str | None:
    """The UID of a resource Almanac named after an Almanac-made UID, else None.

    Lets a sync name the UID of a member deleted before this process listed
    it (made and deleted through another Almanac process between two
    syncs) without a full resync; other clients' names are not guessed.
    """
    name = unquote(href.rstrip("/").rsplit("/", 1)[-1])
    for suffix in (".ics", ".vcf"):
        if name.endswith("@almanac.dev" + suffix):
            return name[: -len(suffix)]
    return None


def item_etag(etag: str, href: str) -> str:
    return f"{etag} {href}"


def split_etag(value: str) -> tuple[str, str]:
    """(ETag, href) of an item etag; href "" for a value of another shape."""
    etag, sep, href = value.rpartition(" ")
    return (etag, href) if sep and href.startswith("/") else (value, "")


def _unmapped(vevent: Any) -> str:
    lines = []
    for name, value in vevent.property_items(recursive=False, sorted=False):
        if name in ("BEGIN", "END") or name in _MAPPED or name.startswith("X-ALMANAC-"):
            continue
        lines.append(vevent.content_line(name, value).to_ical().decode())
    for sub in vevent.subcomponents:
        if sub.name not in _MAPPED:
            lines.append(sub.to_ical().decode().strip())
    return "\r\n".join(lines)


def _has_unmapped(data: bytes) -> bool:
    """Whether a VEVENT of ``data`` has a property or component Almanac does not map."""
    path: list[bytes] = []
    for line in data.splitlines():
        if not line or line[:1] in (b" ", b"\t"):
            continue  # a folded continuation
        name = re.split(rb"[;:]", line, maxsplit=1)[0].strip().upper()
        if name == b"BEGIN":
            path.append(line.split(b":", 1)[-1].strip().upper())
            if len(path) >= 2 and path[-2] == b"VEVENT" and path[-1] != b"VALARM":
                return True
        elif name == b"END":
            path = path[:-1]
        elif path[-1:] == [b"VEVENT"]:
            text = name.decode("ascii", "replace")
            if text not in _MAPPED and not text.startswith("X-ALMANAC-"):
                return True
    return False


def parse_item(href: str, etag: str, data: bytes, zone: str = "UTC") -> RemoteItem:
    """The `RemoteItem` of one resource; malformed ICS is UPSTREAM_MALFORMED."""
    try:
        parsed = from_ics(data, default_zone=zone)
        # Parsed a second time only when there is something to keep.
        document = Calendar.from_ical(data) if _has_unmapped(data) else None
    except (errors.InvalidArgument, ValueError) as exc:
        raise malformed(f"GET {href}", str(exc)) from exc
    events = list(parsed.events) + list(parsed.exceptions)
    if not events:
        raise malformed(f"GET {href}", "the resource holds no VEVENT Almanac can read")
    vevents = document.walk("VEVENT") if document is not None else []
    main = next((v for v in vevents if "RECURRENCE-ID" not in v), None)
    text = _unmapped(main) if main is not None else ""
    if text and not events[0].HasField("original_start"):
        events[0].raw.CopyFrom(
            struct_pb2.Struct(fields={"unmapped": struct_pb2.Value(string_value=text)})
        )
    return RemoteItem(events[0].ical_uid, item_etag(etag, href), events)


def serialize_item(events: list[ev_pb.Event], zone: str = "UTC") -> bytes:
    """One VCALENDAR with the item's events; the main event's unmapped data restored."""
    document = Calendar.from_ical(to_ics(cal_pb.Calendar(time_zone=zone), events))
    main = next((e for e in events if not e.HasField("original_start")), None)
    text = (
        main.raw.fields["unmapped"].string_value if main and "unmapped" in main.raw.fields else ""
    )
    for vevent in document.walk("VEVENT"):
        if "RECURRENCE-ID" in vevent:
            for name in _RULES:
                vevent.pop(name, None)
        elif text:
            _restore(vevent, text)
    return bytes(document.to_ical())


def _restore(vevent: Any, text: str) -> None:
    fragment = Component.from_ical(f"BEGIN:VEVENT\r\n{text}\r\nEND:VEVENT\r\n")
    for name, value in fragment.property_items(recursive=False, sorted=False):
        if name not in ("BEGIN", "END") and name not in vevent:
            vevent.add(name, value, encode=False)
    for sub in fragment.subcomponents:
        vevent.add_component(sub)
