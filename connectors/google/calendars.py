"""``calendarList`` entries <-> mirrored calendars, and calendar writes.

A calendar's etag in the mirror is its ``calendarList`` entry's etag: that is
what a listing returns, and the entry (colour, summary override) is what the
user sees. Google keeps the calendar's colour on the entry, so a create or
update also patches the entry with ``colorRgbFormat``. Access roles are
enforced by Google (403 -> PERMISSION_DENIED); the primary calendar cannot
be deleted (FAILED_PRECONDITION, without asking).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from almanac.v1 import calendar_service_pb2 as cal_pb

from connectors import errors
from connectors.remote import RemoteCalendar

from .http import Api

__all__ = ["CalendarApi"]

_WRITERS = frozenset({"owner", "writer"})


class CalendarApi:
    def __init__(self, api: Api) -> None:
        self._api = api
        self.roles: dict[str, str] = {}  # calendar id -> accessRole, from the last listing
        self._primary = ""

    async def list(self) -> list[RemoteCalendar]:
        out, page = [], ""
        while True:
            params = {"maxResults": 250, **({"pageToken": page} if page else {})}
            got = await self._api.call("GET", "users/me/calendarList", params=params)
            for entry in got.get("items", []):
                self.roles[entry["id"]] = entry.get("accessRole", "reader")
                if entry.get("primary"):
                    self._primary = entry["id"]
                out.append(_remote(entry))
            page = got.get("nextPageToken", "")
            if not page:
                return out

    async def writable(self, remote_id: str) -> bool:
        """Whether the account may write events there (asks Google once per process)."""
        if remote_id not in self.roles:
            await self.list()
        return self.roles.get(remote_id, "owner") in _WRITERS

    async def create(self, calendar: cal_pb.Calendar) -> RemoteCalendar:
        made = await self._api.call("POST", "calendars", body=_calendar_body(calendar))
        self.roles[made["id"]] = "owner"
        return await self._entry(made["id"], calendar)

    async def update(self, remote_id: str, calendar: cal_pb.Calendar) -> RemoteCalendar:
        self._require_owner(remote_id)
        await self._api.call(
            "PATCH", f"calendars/{quote(remote_id, safe='')}", body=_calendar_body(calendar)
        )
        return await self._entry(remote_id, calendar)

    async def delete(self, remote_id: str) -> None:
        if remote_id == self._primary:
            raise errors.FailedPrecondition(
                "Google does not delete a primary calendar", reason="PRIMARY_CALENDAR"
            )
        self._require_owner(remote_id)
        await self._api.call("DELETE", f"calendars/{quote(remote_id, safe='')}")

    def _require_owner(self, remote_id: str) -> None:
        role = self.roles.get(remote_id, "owner")
        if role != "owner":
            raise errors.PermissionDenied(
                f"the account's access role on this Google calendar is {role}",
                reason="UPSTREAM_FORBIDDEN",
            )

    async def _entry(self, remote_id: str, calendar: cal_pb.Calendar) -> RemoteCalendar:
        path = f"users/me/calendarList/{quote(remote_id, safe='')}"
        if calendar.color:
            entry = await self._api.call(
                "PATCH",
                path,
                params={"colorRgbFormat": "true"},
                body={"backgroundColor": calendar.color, "foregroundColor": "#000000"},
            )
        else:
            entry = await self._api.call("GET", path)
        return _remote(entry)


def _calendar_body(calendar: cal_pb.Calendar) -> dict[str, Any]:
    body: dict[str, Any] = {"summary": calendar.display_name, "description": calendar.description}
    if calendar.time_zone:
        body["timeZone"] = calendar.time_zone
    return body


def _remote(entry: dict[str, Any]) -> RemoteCalendar:
    calendar = cal_pb.Calendar(
        display_name=entry.get("summaryOverride") or entry.get("summary", ""),
        description=entry.get("description", ""),
        color=entry.get("backgroundColor", ""),
        time_zone=entry.get("timeZone", ""),
    )
    return RemoteCalendar(entry["id"], calendar, entry.get("etag", ""), bool(entry.get("primary")))
