"""VALARM <-> Reminder.

Export: ``ACTION:DISPLAY`` (popup) or ``ACTION:EMAIL``, ``TRIGGER:-PT<n>M``
(relative to the start), DESCRIPTION = popup text or email body, SUMMARY =
email subject, one ATTENDEE per email recipient. RFC 5545 section 3.6.6
requires DESCRIPTION (and for EMAIL also SUMMARY and an ATTENDEE) even when
the reminder has none; those are filled in (event title, organizer) and
marked ``X-ALMANAC-GENERATED=TRUE`` so that import leaves them out again.

Import also reads what other clients write: AUDIO alarms (Apple) as popups,
triggers relative to the end (RELATED=END) or absolute (VALUE=DATE-TIME)
as minutes before the start, rounded up to whole minutes and capped at four
weeks. Alarms after the start, and NONE/PROCEDURE alarms, have no Almanac
equivalent and are dropped.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from icalendar import Alarm
from icalendar.prop import vBroken

from .people import address_of
from .rfc import ACTION, MAX_REMINDER_MINUTES, X
from .times import instant, zone
from .values import MinutesBefore, TextValue, text_of

__all__ = ["reminder_to_valarm", "valarm_to_reminder"]

_FALLBACK_TEXT = "Reminder"


def _generated(text: str) -> TextValue:
    value = TextValue(text)
    value.params[X.GENERATED] = X.TRUE
    return value


def _text(text: str, fallback: str) -> TextValue:
    return TextValue(text) if text else _generated(fallback or _FALLBACK_TEXT)


def reminder_to_valarm(reminder: ev_pb.Reminder, *, title: str, organizer: str) -> Any:
    """The VALARM; ``title`` and ``organizer`` fill in required fields."""
    alarm: Any = Alarm()
    action = ACTION.to_ical(reminder.method) or "DISPLAY"
    alarm.add("ACTION", action)
    alarm.add("TRIGGER", MinutesBefore(reminder.minutes))
    if action == "EMAIL":
        email = reminder.email
        alarm.add("SUMMARY", _text(email.summary, title))
        alarm.add("DESCRIPTION", _text(email.description, title))
        for to in email.to:
            alarm.add("ATTENDEE", "mailto:" + to)
        if not email.to and organizer:
            alarm.add("ATTENDEE", "mailto:" + organizer, parameters={X.GENERATED: X.TRUE})
    else:
        alarm.add("DESCRIPTION", _text(reminder.popup, title))
    return alarm


def _values(component: Any, name: str) -> list[Any]:
    found = component.get(name)
    if found is None:
        return []
    return found if isinstance(found, list) else [found]


def _own_text(component: Any, name: str) -> str:
    for value in _values(component, name):
        if str(value.params.get(X.GENERATED, "")).upper() != X.TRUE:
            return text_of(value)
    return ""


def _seconds_before(
    alarm: Any, start: common_pb2.EventTime, end: common_pb2.EventTime, floating_zone: str
) -> float | None:
    trigger = alarm.get("TRIGGER")
    if trigger is None or isinstance(trigger, list | vBroken):
        return None  # a TRIGGER that did not parse is reported where it was read
    value = getattr(trigger, "td", None)
    if value is None:
        value = getattr(trigger, "dt", None)
    if isinstance(value, timedelta):
        seconds = -value.total_seconds()
        if str(trigger.params.get("RELATED", "START")).upper() == "END":
            length = instant(end, floating_zone) - instant(start, floating_zone)
            seconds -= length.total_seconds()
        return seconds
    if isinstance(value, datetime):
        at = value if value.tzinfo else value.replace(tzinfo=zone(floating_zone))
        return (instant(start, floating_zone) - at).total_seconds()
    return None


def valarm_to_reminder(
    alarm: Any,
    *,
    start: common_pb2.EventTime,
    end: common_pb2.EventTime,
    floating_zone: str,
) -> ev_pb.Reminder | None:
    """The Reminder, or None when the alarm has no Almanac equivalent."""
    action = alarm.get("ACTION")
    method = ACTION.from_ical(str(action)) if isinstance(action, str) else None
    if method is None:
        return None
    seconds = _seconds_before(alarm, start, end, floating_zone)
    if seconds is None or seconds < 0:
        return None
    reminder = ev_pb.Reminder(
        minutes=min(math.ceil(seconds / 60), MAX_REMINDER_MINUTES), method=method
    )
    if method == common_pb2.REMINDER_METHOD_EMAIL:
        reminder.email.summary = _own_text(alarm, "SUMMARY")
        reminder.email.description = _own_text(alarm, "DESCRIPTION")
        reminder.email.to.extend(
            address_of(value)
            for value in _values(alarm, "ATTENDEE")
            if str(value.params.get(X.GENERATED, "")).upper() != X.TRUE
        )
        if not reminder.email.ListFields():
            reminder.ClearField("email")
    else:
        reminder.popup = _own_text(alarm, "DESCRIPTION")
    return reminder
