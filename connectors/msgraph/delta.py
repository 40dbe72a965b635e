"""Change sync over ``calendarView/delta`` in a rolling window.

A round starts with the window in the query (``startDateTime``,
``endDateTime``: ``PAST`` back and ``FUTURE`` ahead of now), pages on with
``@odata.nextLink`` and ends with an ``@odata.deltaLink``; the link is the
change token. A window older than ``ROLL_AFTER`` ends the round as expired,
so the mirror resyncs over the window of today. 410 and ``syncStateNotFound``
are ``SyncTokenExpired`` (in :mod:`.client`).

Delta returns single events, occurrences and exceptions, never series
masters: a changed occurrence or exception means its master is read again
with its exceptions (one item per series). ``@removed`` entries carry only a
Graph id, so the tracker remembers which item each id it has seen belongs to.
An id it never saw is an event outside the window (Graph sends those too)
while the tracker follows its own chain of tokens from a full listing of its
own; otherwise (a token another process or an earlier run produced) it cannot
tell, and asks for a full resync, which costs the mirror little: items whose
etags it has are skipped.
Replays of a change are harmless: the mirror skips an item whose etag it has.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors import errors
from connectors.remote import ChangeBatch, RemoteItem, SyncTokenExpired

from .client import PAGE_SIZE, GraphClient
from .items import ItemEtag, item_of, item_uid
from .times import format_graph

__all__ = ["DeltaTracker"]

PAST = timedelta(days=90)
FUTURE = timedelta(days=400)
ROLL_AFTER = timedelta(days=7)


class DeltaTracker:
    def __init__(self, client: GraphClient, read: Callable[[str], Awaitable[RemoteItem]]) -> None:
        self._client = client
        self._read = read
        # Graph event id -> (item UID, Graph id of the item's main event)
        self._ids: dict[str, tuple[str, str]] = {}
        self._issued: dict[str, str] = {}  # calendar -> the token this tracker handed out
        # Calendars this tracker listed in full: it has seen every id of their window.
        self._listed: set[str] = set()

    async def changes(self, remote_id: str, token: str) -> ChangeBatch:
        now = datetime.now(UTC)
        if not token:
            self._listed.add(remote_id)
            start = now - PAST
            window = f"{format_graph(start)}|"
            url = f"me/calendars/{remote_id}/calendarView/delta"
            params: dict[str, str] | None = {
                "startDateTime": format_graph(start),
                "endDateTime": format_graph(now + FUTURE),
            }
        else:
            window, _, url = token.partition("|")
            window += "|"
            params = None
            started = datetime.fromisoformat(window[:19]).replace(tzinfo=UTC)
            if now - PAST - started > ROLL_AFTER:
                raise SyncTokenExpired("the sync window moved on", reason="SYNC_TOKEN_EXPIRED")
        own_chain = not token or (
            remote_id in self._listed and self._issued.get(remote_id) == token
        )
        _, page, _ = await self._client.call(
            "GET",
            url,
            params=params,
            headers={"Prefer": f'odata.maxpagesize={PAGE_SIZE}, outlook.timezone="UTC"'},
        )
        items, deleted = await self._apply(page.get("value", []), own_chain)
        link = page.get("@odata.nextLink") or page.get("@odata.deltaLink")
        if not link:
            raise errors.Unavailable(
                "Microsoft Graph sent a delta page without a link",
                reason="UPSTREAM_UNAVAILABLE",
                retry_after=1.0,
            )
        new_token = window + str(link)
        self._issued[remote_id] = new_token
        return ChangeBatch(items, deleted, new_token, more="@odata.nextLink" in page)

    async def _apply(
        self, values: list[dict[str, Any]], own_chain: bool
    ) -> tuple[list[RemoteItem], list[str]]:
        singles: dict[str, RemoteItem] = {}
        masters: set[str] = set()
        deleted: set[str] = set()
        for raw in values:
            event_id = str(raw["id"])
            if "@removed" in raw:
                known = self._ids.pop(event_id, None)
                if known is None:
                    if not own_chain:
                        raise SyncTokenExpired(
                            "a removal this process cannot place", reason="SYNC_TOKEN_EXPIRED"
                        )
                    continue  # outside the window: never mirrored
                uid, main = known
                if main == event_id:
                    deleted.add(uid)
                    singles.pop(uid, None)
                else:
                    masters.add(main)  # an occurrence went: re-read its series
                continue
            if raw.get("type") == "seriesMaster":  # not sent by v1.0 today, but read whole
                masters.add(event_id)
                self._ids[event_id] = (item_uid(raw), event_id)
            elif raw.get("seriesMasterId"):
                masters.add(str(raw["seriesMasterId"]))
                self._ids[event_id] = (item_uid(raw), str(raw["seriesMasterId"]))
            else:
                item = item_of(raw)
                singles[item.uid] = item
                deleted.discard(item.uid)
                self._ids[event_id] = (item.uid, event_id)
        items = list(singles.values())
        for master in sorted(masters):
            try:
                item = await self._read(master)
            except errors.NotFound:
                known = self._ids.get(master)
                if known is not None:
                    deleted.add(known[0])
                continue
            parsed = ItemEtag.parse(item.etag)
            self._ids[master] = (item.uid, parsed.event_id if parsed else master)
            items.append(item)
            deleted.discard(item.uid)
        return items, sorted(deleted)
