"""Validation and defaults of events (the limits are in the EventService comment).

`normalize` turns what a client sent into what Almanac stores: defaults
filled in (end, time zones, status, reminders, UID), a simple recurrence
translated to RRULE, output-only fields dropped. `check_event` names every
bad field of the result at once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import urlparse

from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb

from connectors.recurrence import (
    from_proto,
    simple_to_rrule,
    to_proto,
    validate_recurrence,
    validate_start_end,
)
from services.runtime.errors import BadRequestBuilder
from services.runtime.validation import check_color, check_length, email_ok

__all__ = ["LIMITS", "check_event", "merge_custom_properties", "normalize"]

LIMITS = {
    "display_name": 1024,
    "description": 65_536,
    "location": 1024,
    "attendees": 500,
    "reminders": 10,
    "attachments": 50,
    "custom_properties": 100,
    "custom_key": 256,
    "custom_value": 8192,
    "categories": 50,
    "category": 256,
    "ical_uid": 255,
    "reminder_minutes": 40_320,
}
OUTPUT_ONLY = (
    "all_day", "creator", "recurrence_type", "recurring_master", "original_start",
    "instance_index", "create_time", "update_time", "delete_time",
)  # fmt: skip


def normalize(event: ev_pb.Event, calendar: cal_pb.Calendar, *, create: bool) -> None:
    """Fill defaults in place; ``event`` must already pass `check_event`'s time checks."""
    if create:
        for field in (*OUTPUT_ONLY, "etag"):
            event.ClearField(field)  # type: ignore[arg-type]
        if not event.ical_uid:
            event.ical_uid = f"{uuid.uuid4()}@almanac.dev"
    zone = calendar.time_zone or "UTC"
    for field in ("start", "end"):
        value = getattr(event, field)
        if value.WhichOneof("value") == "date_time" and not value.time_zone:
            value.time_zone = zone
    if not event.HasField("end"):
        event.end.CopyFrom(_default_end(event.start))
    event.all_day = event.start.WhichOneof("value") == "date"
    if event.recurrence.HasField("simple"):
        rule = simple_to_rrule(event.recurrence.simple, event.start, default_zone=zone)
        event.recurrence.ClearField("simple")
        event.recurrence.rrules[:] = [rule]
    if event.HasField("recurrence") and not (
        event.recurrence.rrules or event.recurrence.rdates or event.recurrence.exdates
    ):
        event.ClearField("recurrence")
    if event.status == ev_pb.EVENT_STATUS_UNSPECIFIED:
        event.status = ev_pb.EVENT_STATUS_CONFIRMED
    if event.visibility == ev_pb.VISIBILITY_UNSPECIFIED:
        event.visibility = ev_pb.VISIBILITY_DEFAULT
    if not event.HasField("use_default_reminders"):
        event.use_default_reminders = not event.reminders
    for attendee in event.attendees:
        # Output only: Almanac decides whether an email is a bookable resource.
        attendee.resource = False
        if attendee.response_status == ev_pb.RESPONSE_STATUS_UNSPECIFIED:
            attendee.response_status = ev_pb.RESPONSE_STATUS_PENDING
        if attendee.role == ev_pb.ATTENDEE_ROLE_UNSPECIFIED:
            attendee.role = ev_pb.ATTENDEE_ROLE_PARTICIPANT
        if not attendee.HasField("required"):
            attendee.required = True
    for prop in event.custom_properties:
        if not prop.HasField("private"):
            prop.private = True
    kept = [p for p in event.custom_properties if p.HasField("value")]
    del event.custom_properties[:]
    event.custom_properties.extend(kept)
    for reminder in event.reminders:
        if reminder.method == common_pb2.REMINDER_METHOD_UNSPECIFIED:
            reminder.method = common_pb2.REMINDER_METHOD_POPUP
    if event.event_type and not event.color:
        for event_type in calendar.event_types:
            if event_type.id == event.event_type:
                event.color = event_type.color


def _default_end(start: common_pb2.EventTime) -> common_pb2.EventTime:
    value = from_proto(start)
    step = dt.timedelta(days=1) if start.WhichOneof("value") == "date" else dt.timedelta(hours=1)
    end = to_proto(value + step)
    if start.time_zone and end.WhichOneof("value") == "date_time":
        end.time_zone = start.time_zone
    return end


def merge_custom_properties(current: ev_pb.Event, patch: ev_pb.Event, target: ev_pb.Event) -> None:
    """Kloudless semantics: merge by key; a key without ``value`` is deleted."""
    merged = {p.key: p for p in current.custom_properties}
    for prop in patch.custom_properties:
        if prop.HasField("value"):
            copy = ev_pb.CustomProperty()
            copy.CopyFrom(prop)
            if not copy.HasField("private"):
                copy.private = merged[prop.key].private if prop.key in merged else True
            merged[prop.key] = copy
        else:
            merged.pop(prop.key, None)
    del target.custom_properties[:]
    target.custom_properties.extend(merged.values())


def check_event(
    bad: BadRequestBuilder,
    event: ev_pb.Event,
    calendar: cal_pb.Calendar,
    prefix: str = "event",
) -> None:
    """Every violation of ``event`` (as sent on create, or merged on update)."""
    zone = calendar.time_zone or "UTC"
    check_length(bad, f"{prefix}.display_name", event.display_name, LIMITS["display_name"])
    check_length(bad, f"{prefix}.description", event.description, LIMITS["description"])
    check_length(bad, f"{prefix}.location", event.location, LIMITS["location"])
    check_length(bad, f"{prefix}.ical_uid", event.ical_uid, LIMITS["ical_uid"])
    check_color(bad, f"{prefix}.color", event.color)
    if not event.HasField("start") or event.start.WhichOneof("value") is None:
        bad.add(f"{prefix}.start", "is required")
        times_ok = False
    else:
        end = event.end if event.HasField("end") else None
        violations = validate_start_end(event.start, end, field=prefix, default_zone=zone)
        bad.extend(violations)
        times_ok = not violations
    if times_ok and event.HasField("recurrence"):
        bad.extend(
            validate_recurrence(
                event.recurrence, event.start, field=f"{prefix}.recurrence", default_zone=zone
            )
        )
    _check_people(bad, event, prefix)
    _check_lists(bad, event, prefix, calendar)
    for field, enum in (
        ("visibility", ev_pb.Visibility),
        ("status", ev_pb.EventStatus),
    ):
        if getattr(event, field) not in enum.values():
            bad.add(f"{prefix}.{field}", f"unknown value {getattr(event, field)}")


def _check_people(bad: BadRequestBuilder, event: ev_pb.Event, prefix: str) -> None:
    if event.organizer.email and not email_ok(event.organizer.email):
        bad.add(f"{prefix}.organizer.email", "is not an email address")
    if len(event.attendees) > LIMITS["attendees"]:
        bad.add(f"{prefix}.attendees", f"at most {LIMITS['attendees']} attendees")
    seen: set[str] = set()
    for i, attendee in enumerate(event.attendees):
        path = f"{prefix}.attendees[{i}]"
        if not attendee.email:
            bad.add(f"{path}.email", "is required")
        elif not email_ok(attendee.email):
            bad.add(f"{path}.email", "is not an email address")
        elif attendee.email.lower() in seen:
            bad.add(f"{path}.email", f"{attendee.email} is listed twice")
        seen.add(attendee.email.lower())
        if attendee.response_status not in ev_pb.ResponseStatus.values():
            bad.add(f"{path}.response_status", "unknown value")
        if attendee.role not in ev_pb.AttendeeRole.values():
            bad.add(f"{path}.role", "unknown value")
        check_length(bad, f"{path}.display_name", attendee.display_name, 1024)


def _check_lists(
    bad: BadRequestBuilder, event: ev_pb.Event, prefix: str, calendar: cal_pb.Calendar
) -> None:
    if len(event.reminders) > LIMITS["reminders"]:
        bad.add(f"{prefix}.reminders", f"at most {LIMITS['reminders']} reminders")
    for i, reminder in enumerate(event.reminders):
        if not 0 <= reminder.minutes <= LIMITS["reminder_minutes"]:
            bad.add(f"{prefix}.reminders[{i}].minutes", "must be 0 to 40320 (four weeks)")
        if reminder.method not in common_pb2.ReminderMethod.values():
            bad.add(f"{prefix}.reminders[{i}].method", "unknown value")
    if len(event.attachments) > LIMITS["attachments"]:
        bad.add(f"{prefix}.attachments", f"at most {LIMITS['attachments']} attachments")
    for i, attachment in enumerate(event.attachments):
        if not _is_http_url(attachment.url):
            bad.add(f"{prefix}.attachments[{i}].url", "must be an absolute http(s) URL")
    if len(event.custom_properties) > LIMITS["custom_properties"]:
        bad.add(f"{prefix}.custom_properties", f"at most {LIMITS['custom_properties']}")
    keys: set[str] = set()
    for i, prop in enumerate(event.custom_properties):
        path = f"{prefix}.custom_properties[{i}]"
        if not prop.key:
            bad.add(f"{path}.key", "is required")
        check_length(bad, f"{path}.key", prop.key, LIMITS["custom_key"])
        check_length(bad, f"{path}.value", prop.value, LIMITS["custom_value"])
        if prop.key in keys:
            bad.add(f"{path}.key", f"duplicate key {prop.key[:64]!r}")
        keys.add(prop.key)
    if len(event.categories) > LIMITS["categories"]:
        bad.add(f"{prefix}.categories", f"at most {LIMITS['categories']}")
    for i, category in enumerate(event.categories):
        check_length(bad, f"{prefix}.categories[{i}]", category, LIMITS["category"], required=True)
    if event.event_type and event.event_type not in {t.id for t in calendar.event_types}:
        bad.add(
            f"{prefix}.event_type", f"{event.event_type!r} is not an event type of the calendar"
        )


def _is_http_url(value: str) -> bool:
    """An absolute http(s) URL with a host, a valid port and no whitespace."""
    try:
        # urlparse raises ValueError on an unclosed IPv6 bracket
        # (`http://[::1`); .port on a port that is not a number or too big.
        url = urlparse(value)
        _ = url.port
    except ValueError:
        return False
    has_space = any(c.isspace() for c in value)
    return url.scheme in ("http", "https") and bool(url.hostname) and not has_space
