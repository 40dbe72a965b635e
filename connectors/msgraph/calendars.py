"""Graph ``calendar`` <-> ``almanac.v1.Calendar``.

Graph sets a calendar's colour from the ``calendarColor`` preset names and
reports ``hexColor`` (read-only); a written ``#RRGGBB`` becomes the nearest
preset. The default calendar (``isDefaultCalendar``) is Almanac's
``primary``. Graph calendars have no description or time zone of their own
(the mailbox has one), so those stay Almanac's.
"""

from __future__ import annotations

from typing import Any, Final

from almanac.v1 import calendar_service_pb2 as cal_pb

from connectors.remote import RemoteCalendar

__all__ = ["PRESETS", "calendar_body", "remote_calendar"]

# calendarColor members and the colours Outlook on the web shows for them.
PRESETS: Final = {
    "lightBlue": "#A6D1F5",
    "lightGreen": "#87D28E",
    "lightOrange": "#FCAB73",
    "lightGray": "#C0C0C0",
    "lightYellow": "#F4D07A",
    "lightTeal": "#7DD3D3",
    "lightPink": "#F4A6C6",
    "lightBrown": "#CBA884",
    "lightRed": "#F1817B",
}


def _rgb(hex_color: str) -> tuple[int, int, int]:
    value = hex_color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def nearest_preset(hex_color: str) -> str:
    if len(hex_color.lstrip("#")) != 6:
        return "auto"
    r, g, b = _rgb(hex_color)
    return min(
        PRESETS,
        key=lambda n: sum((x - y) ** 2 for x, y in zip(_rgb(PRESETS[n]), (r, g, b), strict=True)),
    )


def calendar_body(calendar: cal_pb.Calendar, creating: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"name": calendar.display_name}
    if calendar.color or creating:
        body["color"] = nearest_preset(calendar.color) if calendar.color else "auto"
    return body


def remote_calendar(raw: dict[str, Any]) -> RemoteCalendar:
    color = str(raw.get("hexColor") or PRESETS.get(str(raw.get("color")), "")).upper()
    calendar = cal_pb.Calendar(display_name=str(raw.get("name") or ""), color=color)
    etag = str(raw.get("changeKey") or raw.get("@odata.etag") or "")
    return RemoteCalendar(str(raw["id"]), calendar, etag, bool(raw.get("isDefaultCalendar")))
