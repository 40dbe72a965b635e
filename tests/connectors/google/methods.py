"""The fake's methods: calendarList, calendars and events, as Google answers them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .state import ApiError, Calendar, new_etag, new_id, now_rfc3339

if TYPE_CHECKING:
    from .fake import FakeGoogle

__all__ = ["EventsApi"]

_ID = re.compile(r"[a-v0-9]{5,1024}")
_INSTANCE = re.compile(r"(?P<master>[a-v0-9]+)_(?P<day>\d{8})(T(?P<time>\d{6})Z)?")
# syncToken cannot be combined with these (events.list, discovery document).
_NOT_WITH_SYNC = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)
_READ_ONLY = ("kind", "etag", "htmlLink", "created", "updated", "creator", "recurringEventId")


class EventsApi:
    def __init__(self, fake: FakeGoogle) -> None:
        self.fake = fake
        # Listings in progress, by page token: opaque and short, like Google's.
        self._pages: dict[str, dict[str, Any]] = {}

    def _encode(self, page: dict[str, Any]) -> str:
        token = new_id()
        self._pages[token] = page
        return token

    def _decode(self, token: str) -> dict[str, Any]:
        page = self._pages.get(token)
        if page is None:
            raise ApiError(400, "invalid", "Invalid page token")
        return page

    def serve(
        self, name: str, user: str, args: dict[str, str], q: dict[str, str], headers: Any, body: Any
    ) -> tuple[int, Any]:
        cals = self.fake.users[user]
        if name == "calendarList.list":
            entries = [c.entry() for c in cals.values()]
            return 200, {
                "kind": "calendar#calendarList",
                "etag": new_etag(),
                "items": entries,
                "nextSyncToken": "cl",
            }
        if name == "calendars.insert":
            cal = Calendar(
                new_id() + "@group.calendar.google.com",
                body["summary"],
                f"{user}@example.com",
                body.get("timeZone", "UTC"),
                body.get("description", ""),
            )
            cals[cal.id] = cal
            return 200, cal.resource()
        cal = cals.get(args.get("calendarId", ""))
        if cal is None:
            raise ApiError(404, "notFound", "Not Found")
        if name.startswith(("calendarList.", "calendars.")):
            return self._calendar(name, cals, cal, q, body)
        if name == "events.list":
            return 200, self._list(cal, q)
        return self._event(name, cal, args.get("eventId", ""), headers, body)

    def _calendar(
        self, name: str, cals: dict[str, Calendar], cal: Calendar, q: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        if name == "calendarList.get":
            return 200, cal.entry()
        if name == "calendarList.patch":
            if "backgroundColor" in body and q.get("colorRgbFormat") != "true":
                raise ApiError(400, "invalid", "colorRgbFormat is required for RGB colours")
            cal.color = body.get("backgroundColor", cal.color)
            cal.entry_etag = new_etag()
            return 200, cal.entry()
        if name == "calendars.get":
            return 200, cal.resource()
        if cal.role != "owner":
            raise ApiError(403, "forbidden", "Forbidden")
        if name == "calendars.patch":
            cal.summary = body.get("summary", cal.summary)
            cal.description = body.get("description", cal.description)
            cal.time_zone = body.get("timeZone", cal.time_zone)
            cal.etag, cal.entry_etag = new_etag(), new_etag()
            return 200, cal.resource()
        if name == "calendars.delete":
            if cal.primary:
                raise ApiError(
                    400, "cannotDeletePrimaryCalendar", "Cannot delete primary calendar."
                )
            del cals[cal.id]
            return 204, None
        raise ApiError(501, "notImplemented", f"the fake has no {name}")

    # -- events.list ------------------------------------------------------------

    def _list(self, cal: Calendar, q: dict[str, str]) -> dict[str, Any]:
        if "syncToken" in q and any(k in q for k in _NOT_WITH_SYNC):
            raise ApiError(400, "invalid", "syncToken cannot be combined with these filters")
        if "syncToken" in q and q.get("showDeleted") == "false":
            raise ApiError(400, "invalid", "showDeleted=false is not allowed with a syncToken")
        page = self._decode(q["pageToken"]) if "pageToken" in q else self._first(cal, q)
        size = min(int(q.get("maxResults", 250)), 2500, self.fake.page_size)
        ids = page["ids"][page["at"] : page["at"] + size]
        reply: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": new_etag(),
            "summary": cal.summary,
            "updated": now_rfc3339(),
            "timeZone": cal.time_zone,
            "accessRole": cal.role,
            "defaultReminders": [],
            "items": [cal.listed(i) for i in ids if i in cal.events],
        }
        if page["at"] + size < len(page["ids"]):
            reply["nextPageToken"] = self._encode({**page, "at": page["at"] + size})
        elif not page.get("uid"):
            reply["nextSyncToken"] = page["token"]
        return reply

    def _first(self, cal: Calendar, q: dict[str, str]) -> dict[str, Any]:
        show_deleted = q.get("showDeleted") == "true"
        if "syncToken" in q:
            since = cal.since(q["syncToken"])
            ids = sorted((i for i, s in cal.seq.items() if s > since), key=cal.seq.__getitem__)
        else:
            ids = sorted(i for i in cal.events if cal.visible(i, show_deleted))
        uid = q.get("iCalUID", "")
        if uid:
            ids = [i for i in ids if cal.events[i].get("iCalUID") == uid]
        return {"ids": ids, "at": 0, "token": cal.token(), "uid": uid}

    # -- one event ----------------------------------------------------------------

    def _event(
        self, name: str, cal: Calendar, event_id: str, headers: Any, body: Any
    ) -> tuple[int, Any]:
        if name == "events.get":
            return 200, self._found(cal, event_id)
        if cal.role not in ("owner", "writer"):
            raise ApiError(
                403, "requiredAccessLevel", "You need to have writer access to this calendar."
            )
        if name == "events.insert":
            return 200, self._insert(cal, body)
        exception = event_id not in cal.events and _INSTANCE.fullmatch(event_id)
        if exception:
            self._new_exception(cal, event_id)
        current = self._found(cal, event_id)
        if event_id in cal.deleted:
            raise ApiError(410, "deleted", "Resource has been deleted")
        match = headers.get("If-Match")
        if match and match != current["etag"]:
            raise ApiError(412, "conditionNotMet", "Precondition Failed")
        if name == "events.delete":
            self._delete(cal, event_id)
            return 204, None
        if name in ("events.update", "events.patch"):
            merged = {**current, **body} if name == "events.patch" else dict(body)
            return 200, self._replace(cal, current, merged)
        raise ApiError(501, "notImplemented", f"the fake has no {name}")

    def _found(self, cal: Calendar, event_id: str) -> dict[str, Any]:
        event = cal.events.get(event_id)
        if event is None:
            raise ApiError(404, "notFound", "Not Found")
        return event

    def _insert(self, cal: Calendar, body: dict[str, Any]) -> dict[str, Any]:
        event_id = body.get("id") or new_id()
        if not _ID.fullmatch(event_id):
            raise ApiError(400, "invalid", "Invalid resource id value.")
        uid = body.get("iCalUID") or f"{event_id}@google.com"
        taken = any(
            e.get("iCalUID") == uid and i not in cal.deleted and not e.get("recurringEventId")
            for i, e in cal.events.items()
        )
        if event_id in cal.events or taken:
            raise ApiError(409, "duplicate", "The requested identifier already exists.")
        _check_times(body)
        now = now_rfc3339()
        event = {
            **_writable(body),
            "kind": "calendar#event",
            "id": event_id,
            "iCalUID": uid,
            "created": now,
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            "creator": {"email": cal.owner, "self": True},
            "organizer": body.get("organizer", {"email": cal.id, "self": True}),
            "sequence": 0,
            "status": body.get("status", "confirmed"),
            "reminders": body.get("reminders", {"useDefault": True}),
            "eventType": body.get("eventType", "default"),
        }
        cal.events[event_id] = event
        cal.touch(event_id)
        return event

    def _new_exception(self, cal: Calendar, event_id: str) -> None:
        """Writing to an instance id that is not an exception yet makes it one."""
        parts = _INSTANCE.fullmatch(event_id)
        assert parts is not None
        master = self._found(cal, parts["master"])
        if not master.get("recurrence") or parts["master"] in cal.deleted:
            raise ApiError(404, "notFound", "Not Found")
        day = parts["day"]
        if parts["time"]:
            t = parts["time"]
            when = {
                "dateTime": f"{day[:4]}-{day[4:6]}-{day[6:]}T{t[:2]}:{t[2:4]}:{t[4:]}Z",
                "timeZone": master["start"].get("timeZone", "UTC"),
            }
        else:
            when = {"date": f"{day[:4]}-{day[4:6]}-{day[6:]}"}
        fields = {k: v for k, v in master.items() if k not in ("id", "recurrence", "etag")}
        cal.events[event_id] = {
            **fields,
            "id": event_id,
            "recurringEventId": master["id"],
            "originalStartTime": when,
            "start": when,
        }
        cal.touch(event_id)

    def _replace(
        self, cal: Calendar, current: dict[str, Any], body: dict[str, Any]
    ) -> dict[str, Any]:
        if body.get("iCalUID", current["iCalUID"]) != current["iCalUID"]:
            raise ApiError(400, "invalid", "iCalUID cannot be changed")
        _check_times(body)
        keep = {
            k: current[k]
            for k in (*_READ_ONLY, "id", "iCalUID", "originalStartTime", "organizer", "sequence")
            if k in current
        }
        event = {**_writable(body), **keep}
        event["sequence"] = int(current.get("sequence", 0)) + 1
        event.setdefault("status", "confirmed")
        cal.events[current["id"]] = event
        cal.touch(current["id"])
        return event

    def _delete(self, cal: Calendar, event_id: str) -> None:
        event = cal.events[event_id]
        if event.get("recurringEventId"):  # an instance: a cancelled exception
            event["status"] = "cancelled"
            cal.touch(event_id)
            return
        for other_id, other in list(cal.events.items()):
            if other_id == event_id or other.get("recurringEventId") == event_id:
                other["status"] = "cancelled"
                cal.deleted.add(other_id)
                cal.touch(other_id)


def _writable(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in _READ_ONLY}


def _check_times(body: dict[str, Any]) -> None:
    for key in ("start", "end"):
        when = body.get(key)
        if not isinstance(when, dict) or ("date" in when) == ("dateTime" in when):
            raise ApiError(
                400, "required", f"Missing {key} time." if not when else "Invalid start time."
            )
        if (
            "dateTime" in when
            and not re.search(r"(Z|[+-]\d\d:\d\d)$", when["dateTime"])
            and not when.get("timeZone")
        ):
            raise ApiError(
                400, "invalid", "A time zone offset is required unless timeZone is given."
            )
    if body.get("recurrence") and "dateTime" in body["start"] and not body["start"].get("timeZone"):
        raise ApiError(400, "invalid", "Missing time zone definition for start time.")
    if "date" in body["start"] and body["end"].get("date", "") <= body["start"]["date"]:
        raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.")
