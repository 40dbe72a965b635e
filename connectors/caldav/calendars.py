"""Calendar collections: list (PROPFIND depth 1), MKCALENDAR, PROPPATCH, DELETE.

A calendar's remote id is its collection path. Its remote etag is a hash of
the properties Almanac mirrors, not the collection's ``getetag``: that one
changes with every event (Radicale), which would make every event write a
calendar change. Collections that cannot hold VEVENTs (task lists) are not
calendars to Almanac. Collection writes carry no If-Match: the mirror has
already checked Almanac's own etag, and servers differ on collection etags.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from zoneinfo import available_timezones

from almanac.v1 import calendar_service_pb2 as cal_pb

from connectors.errors import InvalidArgument
from connectors.ical.colors import normalize_hex
from connectors.ical.vtimezone import vtimezone
from connectors.remote import RemoteCalendar

from . import davxml
from .client import DavClient
from .davxml import CAL, CS, DAV, ICAL, q

__all__ = ["create_calendar", "delete_calendar", "list_calendars", "update_calendar"]

_TYPE = q(DAV, "resourcetype")
_NAME = q(DAV, "displayname")
_DESCRIPTION = q(CAL, "calendar-description")
_COLOR = q(ICAL, "calendar-color")
_ZONE = q(CAL, "calendar-timezone")
_COMPONENTS = q(CAL, "supported-calendar-component-set")
_PROPS = (_TYPE, _NAME, _DESCRIPTION, _COLOR, _ZONE, _COMPONENTS, q(CS, "getctag"))
_TZID = re.compile(r"^TZID:(.+?)\r?$", re.MULTILINE)
_ZONES: set[str] = set()


def _zone_of(vcalendar: str) -> str:
    if not _ZONES:
        _ZONES.update(available_timezones())
    match = _TZID.search(vcalendar)
    zone = match.group(1).strip() if match else ""
    return zone if zone in _ZONES else ""


def _props_etag(calendar: cal_pb.Calendar) -> str:
    text = "\0".join(
        (calendar.display_name, calendar.description, calendar.color, calendar.time_zone)
    )
    return "props-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _remote(response: davxml.Response, default: str) -> RemoteCalendar:
    color = normalize_hex(response.text(_COLOR)[:7]) or ""
    calendar = cal_pb.Calendar(
        display_name=response.text(_NAME) or response.href.rstrip("/").rsplit("/", 1)[-1],
        description=response.text(_DESCRIPTION),
        color=color,
        time_zone=_zone_of(response.text(_ZONE)),
    )
    is_default = bool(default) and response.href.rstrip("/") == default.rstrip("/")
    return RemoteCalendar(response.href, calendar, _props_etag(calendar), is_default)


def _holds_events(response: davxml.Response) -> bool:
    kind = response.props.get(_TYPE)
    if kind is None or kind.find(q(CAL, "calendar")) is None:
        return False
    comps = response.props.get(_COMPONENTS)
    if comps is None:
        return True  # not announced: any component
    return any(c.get("name", "").upper() == "VEVENT" for c in comps.iter(q(CAL, "comp")))


async def list_calendars(client: DavClient, home: str, default: str) -> list[RemoteCalendar]:
    found = await client.propfind(home, _PROPS, "list calendars", depth="1")
    return [_remote(r, default) for r in found if r.status == 200 and _holds_events(r)]


def _values(calendar: cal_pb.Calendar) -> dict[str, str]:
    # No DAV:remove, nor empty values: Xandikos 0.4 fails with 500 on both for
    # calendar-description. So a description or colour cleared stays upstream.
    values = {_NAME: calendar.display_name}
    if calendar.description:
        values[_DESCRIPTION] = calendar.description
    if calendar.color:
        values[_COLOR] = calendar.color
    if calendar.time_zone:
        values[_ZONE] = vtimezone_text(calendar.time_zone)
    return values


def vtimezone_text(zone: str) -> str:
    component = vtimezone(zone, 2020, 2035)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Almanac//CalDAV//EN\r\n"
        + bytes(component.to_ical()).decode()
        + "END:VCALENDAR\r\n"
    )


async def create_calendar(
    client: DavClient, home: str, calendar: cal_pb.Calendar
) -> RemoteCalendar:
    href = f"{home.rstrip('/')}/{uuid.uuid4().hex}/"
    values = _values(calendar)
    values[_COMPONENTS] = "VEVENT"
    body = davxml.proppatch(values, tag=q(CAL, "mkcalendar"))
    await client.request(
        "MKCALENDAR",
        href,
        "MKCALENDAR",
        ok=(201,),
        body=body,
        headers={"Content-Type": "application/xml; charset=utf-8"},
    )
    made = _props_only(calendar)
    return RemoteCalendar(href, made, _props_etag(made))


async def update_calendar(
    client: DavClient, href: str, calendar: cal_pb.Calendar
) -> RemoteCalendar:
    response = await client.request(
        "PROPPATCH",
        href,
        "PROPPATCH calendar",
        ok=(207,),
        body=davxml.proppatch(_values(calendar)),
        headers={"Content-Type": "application/xml; charset=utf-8"},
    )
    for answer in client.multistatus(response, "PROPPATCH calendar")[0]:
        if answer.missing - {_DESCRIPTION, _COLOR, _ZONE}:
            refused = ", ".join(sorted(answer.missing))
            raise InvalidArgument(
                f"the CalDAV server refused to set {refused}", reason="UPSTREAM_REJECTED"
            )
    made = _props_only(calendar)
    return RemoteCalendar(href, made, _props_etag(made))


async def delete_calendar(client: DavClient, href: str) -> None:
    await client.request("DELETE", href, "DELETE calendar", ok=(200, 204))


def _props_only(calendar: cal_pb.Calendar) -> cal_pb.Calendar:
    return cal_pb.Calendar(
        display_name=calendar.display_name,
        description=calendar.description,
        color=calendar.color,
        time_zone=calendar.time_zone,
    )
