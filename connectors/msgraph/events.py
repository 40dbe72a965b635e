"""``almanac.v1.Event`` <-> Graph ``event`` JSON, field by field.

The value tables below are the whole mapping of Graph's enums; what Graph
cannot hold (more than one reminder, an email reminder, a floating time) is
refused with a violation naming the field rather than dropped.
"""

from __future__ import annotations

from datetime import date, datetime
from html.parser import HTMLParser
from typing import Any, Final

from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb

from connectors.errors import InvalidArgument
from connectors.recurrence.times import from_proto, to_proto

from . import recurrence
from .times import format_graph, parse_graph, read_time, write_time
from .zones import windows_to_iana

__all__ = ["from_graph", "series_zone", "to_graph"]

_SENSITIVITY_OUT: Final = {
    ev_pb.VISIBILITY_PRIVATE: "private",
    ev_pb.VISIBILITY_CONFIDENTIAL: "confidential",
}  # everything else is "normal"
_SENSITIVITY_IN: Final = {
    "normal": ev_pb.VISIBILITY_DEFAULT,
    "personal": ev_pb.VISIBILITY_PRIVATE,  # Outlook hides personal items like private ones
    "private": ev_pb.VISIBILITY_PRIVATE,
    "confidential": ev_pb.VISIBILITY_CONFIDENTIAL,
}
_RESPONSE_OUT: Final = {
    ev_pb.RESPONSE_STATUS_ACCEPTED: "accepted",
    ev_pb.RESPONSE_STATUS_DECLINED: "declined",
    ev_pb.RESPONSE_STATUS_TENTATIVE: "tentativelyAccepted",
}  # everything else: "none"
_RESPONSE_IN: Final = {
    "accepted": ev_pb.RESPONSE_STATUS_ACCEPTED,
    "organizer": ev_pb.RESPONSE_STATUS_ACCEPTED,
    "declined": ev_pb.RESPONSE_STATUS_DECLINED,
    "tentativelyAccepted": ev_pb.RESPONSE_STATUS_TENTATIVE,
}  # "none", "notResponded": pending
# showAs -> (transparent, status)
_SHOW_AS_IN: Final = {
    "free": (True, ev_pb.EVENT_STATUS_CONFIRMED),
    "tentative": (False, ev_pb.EVENT_STATUS_TENTATIVE),
}  # busy, oof, workingElsewhere, unknown: opaque and confirmed


def series_zone(raw: dict[str, Any]) -> str:
    """The IANA zone an event was written in (recurrence zone first)."""
    rng = (raw.get("recurrence") or {}).get("range") or {}
    for name in (rng.get("recurrenceTimeZone"), raw.get("originalStartTimeZone")):
        found = windows_to_iana(str(name)) if name else None
        if found:
            return found
    return "UTC"


def to_graph(event: ev_pb.Event) -> dict[str, Any]:
    """The Graph body of an event (a single event, master or exception)."""
    if event.status == ev_pb.EVENT_STATUS_CANCELLED:
        # Graph's isCancelled is read-only: only the organizer's cancel action
        # (which mails every attendee) sets it; a cancelled instance is deleted instead.
        raise InvalidArgument(
            violations=[("event.status", "Microsoft Graph cannot store a cancelled event")],
            reason="STATUS_NOT_SUPPORTED_BY_UPSTREAM",
        )
    start, local = write_time(event.start, "event.start")
    end, _ = write_time(event.end, "event.end")
    out: dict[str, Any] = {
        "subject": event.display_name,
        "body": {"contentType": "text", "content": event.description},
        "location": {"displayName": event.location},
        "start": start,
        "end": end,
        "isAllDay": event.start.WhichOneof("value") == "date",
        "categories": list(event.categories),
        "sensitivity": _SENSITIVITY_OUT.get(event.visibility, "normal"),
        "showAs": _show_as(event),
        "attendees": [_attendee(a) for a in event.attendees],
        **_reminder(event),
    }
    if event.organizer.email:
        out["organizer"] = {"emailAddress": _address(event.organizer)}
    if event.recurrence.rrules or event.recurrence.rdates:
        if start["timeZone"] == "UTC" and event.start.time_zone not in ("", "UTC", "Etc/UTC"):
            raise InvalidArgument(
                violations=[
                    (
                        "event.start.time_zone",
                        "no Windows time zone has these rules; "
                        "Microsoft Graph would repeat the series in UTC",
                    )
                ],
                reason="TIME_ZONE_NOT_SUPPORTED_BY_UPSTREAM",
            )
        out["recurrence"] = recurrence.to_graph(
            list(event.recurrence.rrules),
            bool(event.recurrence.rdates),
            local,
            start["timeZone"],
        )
    return out


def _show_as(event: ev_pb.Event) -> str:
    if event.transparent:
        return "free"
    return "tentative" if event.status == ev_pb.EVENT_STATUS_TENTATIVE else "busy"


def _address(person: ev_pb.Person | ev_pb.Attendee) -> dict[str, str]:
    return {"address": person.email, "name": person.display_name or person.email}


def _attendee(a: ev_pb.Attendee) -> dict[str, Any]:
    optional = a.HasField("required") and not a.required
    kind = "resource" if a.resource else "optional" if optional else "required"
    response = _RESPONSE_OUT.get(a.response_status, "none")
    return {
        "emailAddress": _address(a),
        "type": kind,
        "status": {"response": response, "time": "0001-01-01T00:00:00Z"},
    }


def _reminder(event: ev_pb.Event) -> dict[str, Any]:
    if event.use_default_reminders or (
        not event.HasField("use_default_reminders") and not event.reminders
    ):
        return {}  # Graph's own default (on, 15 minutes) applies
    if not event.reminders:
        return {"isReminderOn": False}
    if len(event.reminders) > 1:
        raise InvalidArgument(
            violations=[("event.reminders", "Microsoft Graph keeps one reminder per event")],
            reason="REMINDERS_NOT_SUPPORTED_BY_UPSTREAM",
        )
    if event.reminders[0].method == common_pb2.REMINDER_METHOD_EMAIL:
        raise InvalidArgument(
            violations=[("event.reminders[0].method", "Microsoft Graph has popup reminders only")],
            reason="REMINDERS_NOT_SUPPORTED_BY_UPSTREAM",
        )
    return {"isReminderOn": True, "reminderMinutesBeforeStart": event.reminders[0].minutes}


def from_graph(raw: dict[str, Any], uid: str, zone: str) -> ev_pb.Event:
    """An event from Graph JSON read in UTC; ``zone`` is its series' IANA zone."""
    all_day = bool(raw.get("isAllDay"))
    transparent, status = _SHOW_AS_IN.get(
        str(raw.get("showAs")), (False, ev_pb.EVENT_STATUS_CONFIRMED)
    )
    if raw.get("isCancelled"):
        status = ev_pb.EVENT_STATUS_CANCELLED
    event = ev_pb.Event(
        ical_uid=uid,
        display_name=str(raw.get("subject") or ""),
        description=_text(raw.get("body") or {}),
        location=str((raw.get("location") or {}).get("displayName") or ""),
        start=read_time(raw.get("start"), all_day, zone),
        end=read_time(raw.get("end"), all_day, zone),
        categories=[str(c) for c in raw.get("categories") or []],
        visibility=_SENSITIVITY_IN.get(str(raw.get("sensitivity")), ev_pb.VISIBILITY_DEFAULT),
        transparent=transparent,
        status=status,
        attendees=[_attendee_in(a) for a in raw.get("attendees") or []],
    )
    organizer = (raw.get("organizer") or {}).get("emailAddress") or {}
    if organizer.get("address"):
        event.organizer.email = str(organizer["address"])
        event.organizer.display_name = str(organizer.get("name") or "")
    if raw.get("isReminderOn") is not None:
        event.use_default_reminders = False
        if raw["isReminderOn"]:
            event.reminders.add(
                minutes=int(raw.get("reminderMinutesBeforeStart") or 0),
                method=common_pb2.REMINDER_METHOD_POPUP,
            )
    if raw.get("recurrence"):
        _read_recurrence(event, raw, zone)
    if raw.get("originalStart") and raw.get("type") in ("exception", "occurrence"):
        event.original_start.CopyFrom(_original_start(str(raw["originalStart"]), all_day, zone))
    return event


class _Text(HTMLParser):
    """The text of an HTML body (Outlook writes HTML): blocks become new lines."""

    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("style", "script", "head")
        if tag in self._BLOCKS and self.parts and not self.parts[-1].endswith("\n"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "script", "head") and self._skip > 0

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _text(body: dict[str, Any]) -> str:
    content = str(body.get("content") or "")
    if str(body.get("contentType")) != "html":
        return content
    parser = _Text()
    parser.feed(content)
    return "".join(parser.parts).strip()


def _attendee_in(raw: dict[str, Any]) -> ev_pb.Attendee:
    address = raw.get("emailAddress") or {}
    kind = raw.get("type") or "required"
    response = str((raw.get("status") or {}).get("response") or "none")
    attendee = ev_pb.Attendee(
        email=str(address.get("address") or ""),
        display_name=str(address.get("name") or ""),
        response_status=_RESPONSE_IN.get(response, ev_pb.RESPONSE_STATUS_PENDING),
        resource=kind == "resource",
    )
    if kind == "optional":
        attendee.required = False
    if attendee.display_name == attendee.email:
        attendee.display_name = ""
    return attendee


def _read_recurrence(event: ev_pb.Event, raw: dict[str, Any], zone: str) -> None:
    start = from_proto(event.start)
    event.recurrence.rrules.append(recurrence.from_graph(raw["recurrence"], start))
    # cancelledOccurrences: "OID.{master id}.{yyyy-mm-dd}", the date in the series' zone
    for oid in sorted(raw.get("cancelledOccurrences") or []):
        day = date.fromisoformat(str(oid).rsplit(".", 1)[-1])
        if isinstance(start, datetime):
            event.recurrence.exdates.append(to_proto(datetime.combine(day, start.timetz())))
        else:
            event.recurrence.exdates.append(to_proto(day))


def _original_start(text: str, all_day: bool, zone: str) -> common_pb2.EventTime:
    """``originalStart`` is a UTC DateTimeOffset; for an all-day series, its date."""
    wall = parse_graph(text.replace("+00:00", ""))
    if all_day:
        return read_time({"dateTime": format_graph(wall)}, True, zone)
    return read_time({"dateTime": format_graph(wall), "timeZone": "UTC"}, False, zone)
