"""The fake Graph's resources: routes, validation, answers in the asked zone."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tests.connectors.graph import delta
from tests.connectors.graph.expand import instant, zone_of
from tests.connectors.graph.schema import check
from tests.connectors.graph.store import (
    Calendar,
    Mailbox,
    bounds,
    new_id,
    parse_wall,
    public,
    series_instances,
    stamp,
    wall_text,
)

if TYPE_CHECKING:
    from tests.connectors.graph.fake import FakeGraph

__all__ = ["handle", "present"]

Reply = tuple[int, Any, dict[str, str]]
_WALL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?")
_ZONE_PREF = re.compile(r'outlook\.timezone="([^"]+)"')
# Pattern members Graph requires per type (recurrencepattern.md).
_REQUIRED = {
    "daily": (),
    "weekly": ("daysOfWeek",),
    "absoluteMonthly": ("dayOfMonth",),
    "relativeMonthly": ("daysOfWeek",),
    "absoluteYearly": ("dayOfMonth", "month"),
    "relativeYearly": ("daysOfWeek", "month"),
}
_SHAPE = ("start", "end", "isAllDay", "recurrence")
_SERVER_SET = (
    "id",
    "changeKey",
    "createdDateTime",
    "lastModifiedDateTime",
    "iCalUId",
    "type",
    "seriesMasterId",
    "originalStart",
    "cancelledOccurrences",
    "webLink",
)


def _error(status: int, code: str, message: str) -> Reply:
    return status, {"error": {"code": code, "message": message}}, {}


def handle(
    fake: FakeGraph,
    box: Mailbox,
    method: str,
    parts: list[str],
    query: dict[str, str],
    headers: Any,
    body: Any,
) -> Reply:
    zone = _ZONE_PREF.search(str(headers.get("Prefer") or ""))
    answer_zone = zone.group(1) if zone else "UTC"
    status, payload, extra = _route(fake, box, method, parts, query, headers, body)
    if status < 300 and payload is not None:
        payload = present(fake, payload, answer_zone, "$expand" in query)
        extra = {**extra, "Preference-Applied": f'outlook.timezone="{answer_zone}"'}
    return status, payload, extra


def _route(
    fake: FakeGraph,
    box: Mailbox,
    method: str,
    parts: list[str],
    query: dict[str, str],
    headers: Any,
    body: Any,
) -> Reply:
    if parts[:1] == ["calendars"]:
        if len(parts) == 1:
            return _calendars(fake, box, method, body)
        cal = box.calendars.get(parts[1])
        if cal is None:
            return _error(404, "ErrorItemNotFound", "The specified object was not found.")
        if len(parts) == 2:
            return _calendar(fake, box, cal, method, body)
        if parts[2:] == ["events"] and method == "POST":
            return _create(fake, box, cal, body)
        if parts[2:] == ["calendarView", "delta"] and method == "GET":
            return delta.page(fake, box, cal, query, headers)
    if parts[:1] == ["events"] and len(parts) >= 2:
        found = box.find(parts[1])
        if found is None:
            return _error(404, "ErrorItemNotFound", "The specified object was not found.")
        if parts[2:] == ["instances"] and method == "GET":
            return _instances(box, found[1], query)
        if len(parts) == 2:
            return _event(fake, found, parts[1], method, headers, body)
    return _error(400, "BadRequest", f"unsupported: {method} /{'/'.join(parts)}")


def _calendars(fake: FakeGraph, box: Mailbox, method: str, body: Any) -> Reply:
    if method == "GET":
        return 200, {"value": [_calendar_json(box, c) for c in box.calendars.values()]}, {}
    if method != "POST":
        return _error(405, "BadRequest", "method")
    if problem := _body_problems(fake, body, "calendar"):
        return problem
    cid = "cal-" + uuid.uuid4().hex
    box.calendars[cid] = Calendar(cid, body.get("name", ""), body.get("color") or "auto")
    return 201, _calendar_json(box, box.calendars[cid]), {}


def _calendar(fake: FakeGraph, box: Mailbox, cal: Calendar, method: str, body: Any) -> Reply:
    if method == "GET":
        return 200, _calendar_json(box, cal), {}
    if method == "DELETE":
        if cal.default:
            return _error(400, "ErrorCannotDeleteObject", "the default calendar stays")
        del box.calendars[cal.id]
        return 204, None, {}
    if problem := _body_problems(fake, body, "calendar"):
        return problem
    cal.name = body.get("name", cal.name)
    cal.color = body.get("color", cal.color)
    cal.change_key = uuid.uuid4().hex
    return 200, _calendar_json(box, cal), {}


def _calendar_json(box: Mailbox, cal: Calendar) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.calendar",
        "id": cal.id,
        "name": cal.name,
        "color": cal.color,
        "hexColor": "",
        "isDefaultCalendar": cal.default,
        "changeKey": cal.change_key,
        "canShare": True,
        "canViewPrivateItems": True,
        "canEdit": True,
        "isRemovable": not cal.default,
        "isTallyingResponses": True,
        "allowedOnlineMeetingProviders": ["teamsForBusiness"],
        "defaultOnlineMeetingProvider": "teamsForBusiness",
        "owner": {"name": box.user, "address": box.address},
    }


def _body_problems(fake: FakeGraph, body: Any, type_name: str) -> Reply | None:
    problems = check(body, type_name, "request")
    if type_name == "event" and isinstance(body, dict):
        problems += _event_rules(body)
    if not problems:
        return None
    for p in problems:
        fake.note(p)
    return _error(400, "ErrorInvalidRequest", "; ".join(problems))


def _event_rules(body: dict[str, Any]) -> list[str]:
    """What Graph's documentation requires beyond the metadata's types."""
    problems = [f"request.{k}: set by the server" for k in _SERVER_SET if k in body]
    for key in ("start", "end"):
        value = body.get(key)
        if value is None:
            continue
        if not _WALL.fullmatch(str(value.get("dateTime"))):
            problems.append(f"request.{key}.dateTime: {value.get('dateTime')!r} is no datetime")
        try:
            zone_of(str(value.get("timeZone") or "UTC"))
        except (ValueError, KeyError, OSError):
            problems.append(f"request.{key}.timeZone: unknown zone {value.get('timeZone')!r}")
    if body.get("isAllDay") and any(
        parse_wall(body[k]["dateTime"]).time() != datetime.min.time()
        for k in ("start", "end")
        if k in body
    ):
        problems.append("request: an all-day event starts and ends at midnight")
    recurrence = body.get("recurrence")
    if recurrence:
        pattern, rng = recurrence.get("pattern") or {}, recurrence.get("range") or {}
        for member in _REQUIRED.get(str(pattern.get("type")), ("type",)):
            if not pattern.get(member):
                problems.append(f"request.recurrence.pattern.{member}: required")
        if not rng.get("startDate") or rng.get("type") is None:
            problems.append("request.recurrence.range: startDate and type are required")
        elif "start" in body and rng["startDate"] != body["start"]["dateTime"][:10]:
            problems.append("request.recurrence.range.startDate: must be the start's date")
        if rng.get("type") == "endDate" and not rng.get("endDate"):
            problems.append("request.recurrence.range.endDate: required")
        if rng.get("type") == "numbered" and not rng.get("numberOfOccurrences"):
            problems.append("request.recurrence.range.numberOfOccurrences: required")
    return problems


def _new_event(box: Mailbox, body: dict[str, Any]) -> dict[str, Any]:
    now = stamp()
    event: dict[str, Any] = {
        "subject": "",
        "body": {"contentType": "text", "content": ""},
        "bodyPreview": "",
        "importance": "normal",
        "sensitivity": "normal",
        "showAs": "busy",
        "isAllDay": False,
        "isCancelled": False,
        "isDraft": False,
        "isOrganizer": True,
        "isReminderOn": True,
        "reminderMinutesBeforeStart": 15,
        "responseRequested": True,
        "hasAttachments": False,
        "categories": [],
        "attendees": [],
        "location": {"displayName": ""},
        "organizer": {"emailAddress": {"name": box.user, "address": box.address}},
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "createdDateTime": now,
        "iCalUId": "040000008200E00074C5B7101A82E008" + uuid.uuid4().hex,
    }
    event.update(body)
    event["id"] = new_id()
    event["originalStartTimeZone"] = body["start"].get("timeZone") or "UTC"
    event["originalEndTimeZone"] = body["end"].get("timeZone") or "UTC"
    event["type"] = "seriesMaster" if body.get("recurrence") else "singleInstance"
    if body.get("recurrence"):
        event["cancelledOccurrences"] = []
    event["_exceptions"] = {}
    _touch(event)
    return event


def _touch(event: dict[str, Any]) -> None:
    event["changeKey"] = uuid.uuid4().hex[:20]
    event["lastModifiedDateTime"] = stamp()
    event["bodyPreview"] = str((event.get("body") or {}).get("content") or "")[:255]


def _create(fake: FakeGraph, box: Mailbox, cal: Calendar, body: Any) -> Reply:
    if problem := _body_problems(fake, body, "event"):
        return problem
    if "start" not in body or "end" not in body:
        return _error(400, "ErrorInvalidRequest", "start and end are required")
    if body.get("transactionId"):  # a retried POST: the same event again
        for event in cal.events.values():
            if event.get("transactionId") == body["transactionId"]:
                return 201, public(event), {}
    event = _new_event(box, body)
    cal.events[event["id"]] = event
    return 201, public(event), {}


def _event(
    fake: FakeGraph,
    found: tuple[Calendar, dict[str, Any], str | None],
    event_id: str,
    method: str,
    headers: Any,
    body: Any,
) -> Reply:
    cal, main, day = found
    current = _current(main, day, event_id)
    if current is None:
        return _error(404, "ErrorItemNotFound", "The specified object was not found.")
    match = headers.get("If-Match")
    if method != "GET" and match is not None and match != f'W/"{current["changeKey"]}"':
        return _error(412, "ErrorIrresolvableConflict", "The change key passed does not match.")
    if method == "GET":
        event = public(current)
        if day is None and main.get("type") == "seriesMaster":
            event["exceptionOccurrences"] = [public(e) for e in main["_exceptions"].values()]
        return 200, event, {}
    if method == "DELETE":
        if day is None:
            del cal.events[main["id"]]
        else:
            main["_exceptions"].pop(day, None)
            main["cancelledOccurrences"].append(f"OID.{main['id']}.{day}")
            _touch(main)
        return 204, None, {}
    if problem := _body_problems(fake, body, "event"):
        return problem
    if day is not None:
        return _patch_occurrence(main, current, day, body)
    reshaped = any(k in body and body[k] != main.get(k) for k in _SHAPE)
    main.update(body)
    if reshaped and main.get("type") == "seriesMaster":
        # Exchange: a new pattern or new times drop the series' exceptions and
        # cancellations (Outlook warns "any exceptions ... will be lost").
        main["_exceptions"].clear()
        main["cancelledOccurrences"] = []
    if "start" in body:
        main["originalStartTimeZone"] = body["start"].get("timeZone") or "UTC"
    _touch(main)
    return 200, public(main), {}


def _current(main: dict[str, Any], day: str | None, event_id: str) -> dict[str, Any] | None:
    if day is None:
        return main
    if day in main["_exceptions"]:
        return dict(main["_exceptions"][day])
    far = datetime(2200, 1, 1, tzinfo=UTC)
    return next((o for o in series_instances(main, far) if o["id"] == event_id), None)


def _patch_occurrence(
    main: dict[str, Any], current: dict[str, Any], day: str, body: dict[str, Any]
) -> Reply:
    exception = public(current)
    exception.update(body)
    exception["type"] = "exception"
    _touch(exception)
    main["_exceptions"][day] = exception
    return 200, public(exception), {}


def _instances(box: Mailbox, main: dict[str, Any], query: dict[str, str]) -> Reply:
    if main.get("type") != "seriesMaster":
        return _error(400, "ErrorInvalidRequest", "not a series master")
    try:
        start = parse_wall(query["startDateTime"]).replace(tzinfo=UTC)
        end = parse_wall(query["endDateTime"]).replace(tzinfo=UTC)
    except (KeyError, ValueError):
        return _error(400, "ErrorInvalidParameter", "startDateTime and endDateTime required")
    found = [i for i in series_instances(main, end) if bounds(i)[0] < end and bounds(i)[1] > start]
    return 200, {"value": found}, {}


def present(fake: FakeGraph, payload: Any, zone: str, expanded: bool) -> Any:
    """The answer in the asked zone, each event and calendar checked against the schema."""
    if isinstance(payload, dict) and "value" in payload:
        return {**payload, "value": [present(fake, v, zone, expanded) for v in payload["value"]]}
    if not isinstance(payload, dict) or "error" in payload or "access_token" in payload:
        return payload
    if payload.get("@odata.type") == "#microsoft.graph.calendar":
        problems = check(payload, "calendar", "response")
    elif "@removed" in payload:
        problems = check(payload, "event", "response")
    else:
        payload = _event_out(payload, zone)
        nested = frozenset({"exceptionOccurrences"}) if expanded else frozenset()
        problems = check(payload, "event", "response", nested)
    for p in problems:
        fake.note(p)
    return payload


def _event_out(event: dict[str, Any], zone: str) -> dict[str, Any]:
    out = dict(event)
    out["@odata.etag"] = f'W/"{event["changeKey"]}"'
    for key in ("start", "end"):
        value = event[key]
        if event.get("isAllDay"):
            out[key] = {"dateTime": value["dateTime"], "timeZone": zone}
            continue
        moment = instant(parse_wall(value["dateTime"]), zone_of(value.get("timeZone") or "UTC"))
        out[key] = {"dateTime": wall_text(moment.astimezone(zone_of(zone))), "timeZone": zone}
    if "exceptionOccurrences" in event:
        out["exceptionOccurrences"] = [_event_out(e, zone) for e in event["exceptionOccurrences"]]
    return out
