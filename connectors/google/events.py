"""Google Calendar ``Event`` resources <-> ``almanac.v1.Event``, both ways.

Every mapped field is listed in the connector's note (README). What Almanac
has no field for (``id``, ``conferenceData``, ``hangoutLink``, guest
permissions, ``eventType``, EXRULE lines, ...) is kept in ``raw`` as
``{"object": ...}``: readable with ``include_raw``, and the writable part is
sent back unchanged on the next write of the event. Mapped and volatile
fields (``etag``, ``updated``, ``sequence``) stay out of ``raw``, so a
change's ``changed_fields`` names only what really changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import json_format, struct_pb2

from .times import from_google_time, parse_recurrence, recurrence_lines, to_google_time

__all__ = ["COLORS", "from_google", "to_google"]

# Google's fixed event palette (colors.get "event"): colorId -> background.
COLORS = {
    "1": "#a4bdfc",
    "2": "#7ae7bf",
    "3": "#dbadff",
    "4": "#ff887c",
    "5": "#fbd75b",
    "6": "#ffb878",
    "7": "#46d6db",
    "8": "#e1e1e1",
    "9": "#5484ed",
    "10": "#51b749",
    "11": "#dc2127",
}
_RESPONSES = {
    "needsAction": ev_pb.RESPONSE_STATUS_PENDING,
    "accepted": ev_pb.RESPONSE_STATUS_ACCEPTED,
    "declined": ev_pb.RESPONSE_STATUS_DECLINED,
    "tentative": ev_pb.RESPONSE_STATUS_TENTATIVE,
}
_VISIBILITY = {
    "default": ev_pb.VISIBILITY_DEFAULT,
    "public": ev_pb.VISIBILITY_PUBLIC,
    "private": ev_pb.VISIBILITY_PRIVATE,
    "confidential": ev_pb.VISIBILITY_CONFIDENTIAL,
}
_STATUS = {
    "confirmed": ev_pb.EVENT_STATUS_CONFIRMED,
    "tentative": ev_pb.EVENT_STATUS_TENTATIVE,
    "cancelled": ev_pb.EVENT_STATUS_CANCELLED,
}
_METHODS = {"popup": common_pb2.REMINDER_METHOD_POPUP, "email": common_pb2.REMINDER_METHOD_EMAIL}
# Writable fields Almanac has no place for: sent back as Google gave them.
_PASSTHROUGH = (
    "conferenceData",
    "guestsCanInviteOthers",
    "guestsCanModify",
    "guestsCanSeeOtherGuests",
    "anyoneCanAddSelf",
    "source",
    "eventType",
    "focusTimeProperties",
    "outOfOfficeProperties",
    "workingLocationProperties",
    "gadget",
    "eventLabelId",
    "birthdayProperties",
)
# Held in Almanac's own fields (or volatile): not repeated in `raw`.
_MAPPED = frozenset(
    {
        "kind",
        "etag",
        "updated",
        "created",
        "sequence",
        "summary",
        "description",
        "location",
        "start",
        "end",
        "originalStartTime",
        "recurringEventId",
        "iCalUID",
        "visibility",
        "transparency",
        "status",
        "colorId",
        "organizer",
        "creator",
        "attendees",
        "reminders",
        "recurrence",
        "extendedProperties",
        "attachments",
    }
)


def from_google(resource: dict[str, Any]) -> ev_pb.Event:
    """One Google event as Almanac sees it (an exception has ``original_start``)."""
    event = ev_pb.Event(
        display_name=resource.get("summary", ""),
        description=resource.get("description", ""),
        location=resource.get("location", ""),
        ical_uid=resource.get("iCalUID", ""),
        visibility=_VISIBILITY.get(resource.get("visibility", ""), ev_pb.VISIBILITY_UNSPECIFIED),
        transparent=resource.get("transparency") == "transparent",
        status=_STATUS.get(resource.get("status", ""), ev_pb.EVENT_STATUS_CONFIRMED),
        color=COLORS.get(resource.get("colorId", ""), ""),
    )
    for name in ("start", "end"):
        if name in resource:
            getattr(event, name).CopyFrom(from_google_time(resource[name]))
    if "originalStartTime" in resource:
        event.original_start.CopyFrom(from_google_time(resource["originalStartTime"]))
    for name in ("organizer", "creator"):
        if name in resource:
            getattr(event, name).CopyFrom(_person(resource[name]))
    event.attendees.extend(_attendee(a) for a in resource.get("attendees", []))
    _reminders_in(event, resource.get("reminders"))
    if resource.get("recurrence"):
        event.recurrence.CopyFrom(parse_recurrence(resource["recurrence"])[0])
    for scope in ("private", "shared"):
        for key, value in sorted(resource.get("extendedProperties", {}).get(scope, {}).items()):
            event.custom_properties.add(key=key, value=value, private=scope == "private")
    for attachment in resource.get("attachments", []):
        event.attachments.add(
            id=attachment.get("fileId", ""),
            url=attachment["fileUrl"],
            display_name=attachment.get("title", ""),
            mime_type=attachment.get("mimeType", ""),
        )
    for name, field in (("created", "create_time"), ("updated", "update_time")):
        if name in resource:
            moment = datetime.fromisoformat(resource[name].replace("Z", "+00:00"))
            getattr(event, field).FromDatetime(moment)
    rest = {k: v for k, v in resource.items() if k not in _MAPPED}
    unparsed = parse_recurrence(resource.get("recurrence", []))[1]
    if unparsed:
        rest["recurrence"] = unparsed
    raw = struct_pb2.Struct()
    raw.update({"object": rest})
    event.raw.CopyFrom(raw)
    return event


def to_google(event: ev_pb.Event, recurring: bool) -> dict[str, Any]:
    """The writable Google fields of an Almanac event (a master, single or exception)."""
    zone = event.start.time_zone
    body: dict[str, Any] = {
        "start": to_google_time(event.start, "event.start", recurring),
        "end": to_google_time(
            event.end if event.HasField("end") else event.start, "event.end", recurring
        ),
        "summary": event.display_name,
        "description": event.description,
        "location": event.location,
        "status": _key(_STATUS, event.status) or "confirmed",
        "transparency": "transparent" if event.transparent else "opaque",
        "visibility": _key(_VISIBILITY, event.visibility) or "default",
        "attendees": [_attendee_out(a) for a in event.attendees],
        "reminders": _reminders_out(event),
        "extendedProperties": _properties_out(event),
        "attachments": [_attachment_out(a) for a in event.attachments],
    }
    if event.ical_uid:
        body["iCalUID"] = event.ical_uid
    if event.HasField("organizer") and event.organizer.email:
        body["organizer"] = _person_out(event.organizer)
    if event.color:
        body["colorId"] = nearest_color(event.color)
    if event.recurrence.rrules or event.recurrence.rdates or event.recurrence.exdates:
        body["recurrence"] = recurrence_lines(event.recurrence, zone)
    if event.HasField("original_start"):
        body["originalStartTime"] = to_google_time(
            event.original_start, "event.original_start", recurring
        )
    raw = json_format.MessageToDict(event.raw).get("object", {}) if event.HasField("raw") else {}
    body.update({k: raw[k] for k in _PASSTHROUGH if k in raw})
    return body


def nearest_color(color: str) -> str:
    """Google holds only its palette: the colorId closest to ``#RRGGBB``."""
    want = _rgb(color)
    return min(
        COLORS, key=lambda k: sum((a - b) ** 2 for a, b in zip(_rgb(COLORS[k]), want, strict=False))
    )


def _rgb(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    try:
        return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
    except ValueError:
        return (0, 0, 0)


def _key(table: Mapping[str, int], value: int) -> str:
    return next((k for k, v in table.items() if v == value), "")


def _person(value: dict[str, Any]) -> ev_pb.Person:
    return ev_pb.Person(
        id=value.get("id", ""),
        display_name=value.get("displayName", ""),
        email=value.get("email", ""),
    )


def _person_out(person: ev_pb.Person) -> dict[str, Any]:
    out = {"email": person.email}
    if person.display_name:
        out["displayName"] = person.display_name
    return out


def _attendee(value: dict[str, Any]) -> ev_pb.Attendee:
    attendee = ev_pb.Attendee(
        email=value.get("email", ""),
        display_name=value.get("displayName", ""),
        id=value.get("id", ""),
        response_status=_RESPONSES.get(
            value.get("responseStatus", ""), ev_pb.RESPONSE_STATUS_PENDING
        ),
        required=not value.get("optional", False),
        resource=bool(value.get("resource", False)),
        comment=value.get("comment", ""),
    )
    if value.get("organizer"):
        attendee.role = ev_pb.ATTENDEE_ROLE_CHAIR
    return attendee


def _attendee_out(attendee: ev_pb.Attendee) -> dict[str, Any]:
    out: dict[str, Any] = {
        "email": attendee.email,
        "responseStatus": _key(_RESPONSES, attendee.response_status) or "needsAction",
    }
    if attendee.display_name:
        out["displayName"] = attendee.display_name
    if attendee.HasField("required") and not attendee.required:
        out["optional"] = True
    if attendee.comment:
        out["comment"] = attendee.comment
    return out


def _reminders_in(event: ev_pb.Event, value: dict[str, Any] | None) -> None:
    if value is None:
        return
    event.use_default_reminders = bool(value.get("useDefault", False))
    for override in value.get("overrides", []):
        event.reminders.add(
            minutes=int(override["minutes"]),
            method=_METHODS.get(override.get("method", ""), common_pb2.REMINDER_METHOD_POPUP),
        )


def _reminders_out(event: ev_pb.Event) -> dict[str, Any]:
    default = (
        event.use_default_reminders
        if event.HasField("use_default_reminders")
        else (not event.reminders)
    )
    out: dict[str, Any] = {"useDefault": default}
    if not default:
        out["overrides"] = [
            {"method": _key(_METHODS, r.method) or "popup", "minutes": r.minutes}
            for r in event.reminders
        ]
    return out


def _properties_out(event: ev_pb.Event) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {"private": {}, "shared": {}}
    for prop in event.custom_properties:
        if prop.HasField("value"):
            scope = "private" if not prop.HasField("private") or prop.private else "shared"
            out[scope][prop.key] = prop.value
    return out


def _attachment_out(attachment: ev_pb.Attachment) -> dict[str, Any]:
    out = {"fileUrl": attachment.url}
    if attachment.display_name:
        out["title"] = attachment.display_name
    if attachment.mime_type:
        out["mimeType"] = attachment.mime_type
    return out
