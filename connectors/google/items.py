"""Google events grouped into Almanac items (one per iCalUID), read and written.

Google lists a series master and each of its exceptions as separate events
(``recurringEventId`` + ``originalStartTime``), each with its own id and
etag, and may spread them over pages. An item must be whole, so a page that
touches a recurring series is completed with ``events.list?iCalUID=``
(unless the page is a whole full listing: then it holds every series whole).

An item's etag is the ids and etags of its Google events, master first
(``g1:`` + JSON): the mirror treats it as opaque, and a write gets from it
the Google ids to write to and the ``If-Match`` of each. Google's ids are
therefore never shown as Almanac fields; each event's ``raw.object`` also
holds its ``id`` (with the rest of what Almanac has no field for).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from almanac.v1 import event_service_pb2 as ev_pb

from connectors import errors
from connectors.remote import ChangeBatch, RemoteItem

from .events import from_google, to_google
from .http import Api
from .times import instance_suffix

__all__ = ["EventApi", "decode_etag", "encode_etag"]

_WRITE_PARAMS = {"conferenceDataVersion": 1, "supportsAttachments": "true"}
_Ids = list[tuple[str, str]]  # (Google id, etag), master first


def encode_etag(ids: _Ids) -> str:
    return "g1:" + json.dumps(ids, separators=(",", ":"))


def decode_etag(etag: str) -> _Ids:
    if not etag.startswith("g1:"):
        return []
    try:
        return [(str(i), str(e)) for i, e in json.loads(etag[3:])]
    except (ValueError, TypeError):
        return []


class EventApi:
    # Google's maximum page (B2): fewer round trips on a first sync.
    def __init__(self, api: Api, page_size: int = 2500) -> None:
        self._api = api
        self.page_size = page_size
        self._uids: dict[str, str] = {}  # Google id -> iCalUID, of every event seen

    def _path(self, calendar: str, event: str = "") -> str:
        path = f"calendars/{quote(calendar, safe='')}/events"
        return f"{path}/{quote(event, safe='')}" if event else path

    # -- reading -------------------------------------------------------------

    async def changes(self, calendar: str, token: str) -> ChangeBatch:
        """One page: tokens are ``page:<pageToken>`` or ``sync:<syncToken>``."""
        params: dict[str, Any] = {"maxResults": self.page_size}
        kind, _, value = token.partition(":")
        if kind == "page":
            params["pageToken"] = value
        elif kind == "sync":
            params["syncToken"] = value
        got = await self._api.call("GET", self._path(calendar), params=params)
        # A full listing in one page holds every series whole: no need to ask again.
        whole = not token and not got.get("nextPageToken")
        items, deleted = await self._group(calendar, got.get("items", []), whole)
        if got.get("nextPageToken"):
            return ChangeBatch(items, deleted, "page:" + got["nextPageToken"], more=True)
        if not got.get("nextSyncToken"):
            raise errors.Unavailable(
                "Google ended a listing without a sync token",
                reason="UPSTREAM_UNAVAILABLE",
                retry_after=5.0,
            )
        return ChangeBatch(items, deleted, "sync:" + got["nextSyncToken"])

    async def _group(
        self, calendar: str, page: list[dict[str, Any]], whole: bool
    ) -> tuple[list[RemoteItem], list[str]]:
        singles: dict[str, dict[str, Any]] = {}
        series: set[str] = set()
        deleted: set[str] = set()
        for event in page:
            uid = await self._uid_of(calendar, event)
            if not uid:
                continue  # deleted before we ever saw it: nothing mirrored to remove
            self._uids[event["id"]] = uid
            if event.get("recurringEventId") or event.get("recurrence"):
                series.add(uid)
            elif event.get("status") == "cancelled":
                deleted.add(uid)
            else:
                singles[uid] = event
        items = [_item(uid, [e]) for uid, e in singles.items() if uid not in series]
        for uid in sorted(series):
            if whole:
                events = _ordered([e for e in page if self._uids.get(e["id"]) == uid])
            else:
                events = await self.series(calendar, uid)
            if events and events[0].get("status") != "cancelled":
                items.append(_item(uid, events))
            else:
                deleted.add(uid)
        return items, sorted(deleted - {i.uid for i in items})

    async def _uid_of(self, calendar: str, event: dict[str, Any]) -> str:
        """A deleted event is guaranteed only its id (B2): look the UID up."""
        if event.get("iCalUID"):
            return str(event["iCalUID"])
        for key in (event["id"], event.get("recurringEventId", "")):
            if key in self._uids:
                return self._uids[key]
        key = event.get("recurringEventId") or event["id"]
        try:
            found = await self._api.call("GET", self._path(calendar, key))
        except errors.NotFound:
            return ""
        return str(found.get("iCalUID", ""))

    async def series(self, calendar: str, uid: str) -> list[dict[str, Any]]:
        """Every event of a UID, the master first ([] if none is left)."""
        events, page = [], ""
        while True:
            params: dict[str, Any] = {"iCalUID": uid, "showDeleted": "true", "maxResults": 2500}
            if page:
                params["pageToken"] = page
            got = await self._api.call("GET", self._path(calendar), params=params)
            events.extend(got.get("items", []))
            page = got.get("nextPageToken", "")
            if not page:
                break
        for event in events:
            self._uids[event["id"]] = uid
        return _ordered(events)

    # -- writing -------------------------------------------------------------

    async def put(self, calendar: str, item: RemoteItem, etag: str | None) -> str:
        known = dict(decode_etag(etag or ""))
        ids = decode_etag(etag or "")
        mains = [e for e in item.events if not e.HasField("original_start")]
        if not mains:
            raise errors.InvalidArgument(violations=[("event", "an item without its event")])
        master, recurring = mains[0], _recurring(mains[0])
        body = to_google(master, recurring)
        body["iCalUID"] = item.uid
        if etag is None:
            made = await self._api.call(
                "POST", self._path(calendar), params=_WRITE_PARAMS, body=body
            )
        elif not ids:
            raise errors.EtagMismatch(
                "the item's Google ids are unknown; resync", reason="UPSTREAM_ETAG_MISMATCH"
            )
        else:
            made = await self._api.call(
                "PUT",
                self._path(calendar, ids[0][0]),
                params=_WRITE_PARAMS,
                body=body,
                etag=ids[0][1],
            )
        written = [(str(made["id"]), str(made["etag"]))]
        self._uids[made["id"]] = item.uid
        for exception in (e for e in item.events if e.HasField("original_start")):
            event_id = f"{made['id']}_{instance_suffix(exception.original_start)}"
            body = to_google(exception, True)
            body["iCalUID"] = item.uid
            got = await self._api.call(
                "PUT",
                self._path(calendar, event_id),
                params=_WRITE_PARAMS,
                body=body,
                etag=known.get(event_id),
            )
            written.append((str(got["id"]), str(got["etag"])))
        return encode_etag(written)

    async def delete(self, calendar: str, uid: str, etag: str) -> None:
        ids = decode_etag(etag)
        if not ids:  # an etag from before this connector: find the master by UID
            events = await self.series(calendar, uid)
            ids = [(events[0]["id"], "")] if events else []
        if ids:
            await self._api.call("DELETE", self._path(calendar, ids[0][0]), etag=ids[0][1] or None)


def _recurring(event: ev_pb.Event) -> bool:
    r = event.recurrence
    return bool(r.rrules or r.rdates or r.exdates)


def _ordered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The master first (if any), then the exceptions by id."""
    masters = [e for e in events if not e.get("recurringEventId")]
    exceptions = sorted((e for e in events if e.get("recurringEventId")), key=_by_id)
    return masters[:1] + exceptions


def _by_id(event: dict[str, Any]) -> str:
    return str(event["id"])


def _item(uid: str, events: list[dict[str, Any]]) -> RemoteItem:
    ids = [(str(e["id"]), str(e.get("etag", ""))) for e in events]
    mapped = [from_google(e) for e in events]
    for event in mapped[1:]:
        if not event.HasField("start"):
            _timed_like_master(event, mapped[0])
    return RemoteItem(uid, encode_etag(ids), mapped)


def _timed_like_master(exception: ev_pb.Event, master: ev_pb.Event) -> None:
    """A cancelled instance comes with only its original start (B2): give it
    the master's length there, as every event has a start and an end."""
    exception.start.CopyFrom(exception.original_start)
    exception.end.CopyFrom(exception.original_start)
    if exception.start.WhichOneof("value") == "date_time" and master.start.HasField("date_time"):
        length = master.end.date_time.ToNanoseconds() - master.start.date_time.ToNanoseconds()
        exception.end.date_time.FromNanoseconds(exception.start.date_time.ToNanoseconds() + length)
    elif exception.start.WhichOneof("value") == "date":
        day = date(
            exception.start.date.year, exception.start.date.month, exception.start.date.day
        ) + timedelta(days=1)
        exception.end.date.year, exception.end.date.month, exception.end.date.day = (
            day.year,
            day.month,
            day.day,
        )
