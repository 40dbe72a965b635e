"""`CalDavBackend`: a CalDAV account as a `connectors.remote.RemoteBackend`.

Built from the account's ``CalDavSettings`` (URL, user name, password).
Everything is async over one ``httpx.AsyncClient`` (no thread, nothing
blocking the event loop); errors are mapped in `errors` at the HTTP
boundary. Discovery runs once per backend object (per account and settings
version) and is redone when the server says a collection is gone.
"""

from __future__ import annotations

import logging

from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb

from connectors import errors
from connectors.remote import ChangeBatch, RemoteBackend, RemoteCalendar, RemoteItem

from . import calendars, davxml
from .client import BULK_READ_TIMEOUT, DEFAULT_TIMEOUT, DavClient
from .davxml import CAL, DAV, q
from .discovery import Homes, discover
from .items import href_for, item_etag, parse_item, serialize_item, split_etag
from .sync import Tracker

__all__ = ["CalDavBackend"]

_log = logging.getLogger("almanac.caldav")
_DATA = q(CAL, "calendar-data")
_ETAG = q(DAV, "getetag")
_ICS = {"Content-Type": "text/calendar; charset=utf-8"}


class CalDavBackend(RemoteBackend):
    #: Seconds one HTTP request may take (connect, each read, write)...
    timeout = DEFAULT_TIMEOUT
    #: ...and to wait for the answer of a REPORT or a depth-1 PROPFIND.
    bulk_timeout = BULK_READ_TIMEOUT

    def __init__(self, account: acc_pb.Account) -> None:
        super().__init__(account)
        settings = account.settings.caldav
        self.client = DavClient(
            settings.url,
            settings.username,
            settings.password,
            timeout=self.timeout,
            bulk_timeout=self.bulk_timeout,
        )
        self._homes: Homes | None = None
        self.tracker: Tracker[RemoteItem] = Tracker(self.client, self._multiget, _describe)

    async def homes(self) -> Homes:
        if self._homes is None:
            self._homes = await discover(self.client)
        return self._homes

    async def validate(self) -> None:
        """Discovery and a calendar listing, with the account's credentials.

        A new Radicale user has no calendar; Almanac's ``primary`` needs one,
        so one is made here (only here: a user who later deletes every
        calendar on the server is not given a new one behind their back).
        """
        if not await self.list_calendars():
            await self.create_calendar(cal_pb.Calendar(display_name="Calendar"))

    # -- calendars ----------------------------------------------------------

    async def list_calendars(self) -> list[RemoteCalendar]:
        homes = await self.homes()
        found = await calendars.list_calendars(self.client, homes.calendars, homes.default_calendar)
        if found and not any(c.default for c in found):
            first = found[0]
            found[0] = RemoteCalendar(first.remote_id, first.calendar, first.etag, default=True)
        return found

    async def create_calendar(self, calendar: cal_pb.Calendar) -> RemoteCalendar:
        homes = await self.homes()
        return await calendars.create_calendar(self.client, homes.calendars, calendar)

    async def update_calendar(
        self, remote_id: str, calendar: cal_pb.Calendar, etag: str
    ) -> RemoteCalendar:
        return await calendars.update_calendar(self.client, remote_id, calendar)

    async def delete_calendar(self, remote_id: str, etag: str) -> None:
        await calendars.delete_calendar(self.client, remote_id)
        self.tracker.forget(remote_id)

    # -- items --------------------------------------------------------------

    async def list_items(self, remote_id: str) -> list[RemoteItem]:
        batch = await self.changes(remote_id, "")
        items = list(batch.items)
        while batch.more:
            batch = await self.changes(remote_id, batch.token)
            items += batch.items
        return items

    async def put_item(self, remote_id: str, item: RemoteItem, etag: str | None) -> str:
        body = serialize_item(item.events)
        if etag is None:
            href = href_for(remote_id, item.uid)
            headers = {**_ICS, "If-None-Match": "*"}
        else:
            known, href = split_etag(etag)
            href = href or href_for(remote_id, item.uid)
            headers = {**_ICS, "If-Match": known} if known else dict(_ICS)
        try:
            response = await self.client.request(
                "PUT", href, "PUT event", ok=(200, 201, 204), body=body, headers=headers
            )
        except errors.EtagMismatch as exc:
            if etag is None:
                raise errors.AlreadyExists(
                    f"an event with UID {item.uid} is already on the CalDAV server",
                    reason="UPSTREAM_UID_CONFLICT",
                ) from exc
            raise
        new = response.headers.get("ETag") or await self._etag_of(href)
        listing = self.tracker.listings.get(remote_id)
        if listing is not None:
            listing.saw(href, item.uid, new)
        return item_etag(new, href)

    async def delete_item(self, remote_id: str, uid: str, etag: str) -> None:
        known, href = split_etag(etag)
        href = href or href_for(remote_id, uid)
        headers = {"If-Match": known} if known else {}
        try:
            await self.client.request(
                "DELETE", href, "DELETE event", ok=(200, 204), headers=headers
            )
        except errors.NotFound:
            pass  # already gone: what the caller wanted
        # The listing keeps the href: the next sync names it deleted, by UID.

    async def _etag_of(self, href: str) -> str:
        found = await self.client.propfind(href, [_ETAG], "PROPFIND getetag")
        return found[0].text(_ETAG) if found else ""

    # -- change sync -----------------------------------------------------------

    async def changes(self, remote_id: str, token: str) -> ChangeBatch:
        page = await self.tracker.changes(remote_id, token)
        return ChangeBatch(page.items, page.deleted, page.token, page.more)

    async def _multiget(self, collection: str, hrefs: list[str]) -> list[RemoteItem]:
        body = davxml.multiget(CAL, hrefs, _DATA)
        responses, _ = await self.client.report(collection, body, "calendar-multiget")
        items = []
        for response in responses:
            data = response.text(_DATA)
            if response.status != 200 or not data:
                continue  # deleted meanwhile: the next sync says so
            try:
                items.append(parse_item(response.href, response.text(_ETAG), data.encode()))
            except errors.ConnectorError as exc:
                # One unreadable resource must not stop the account's sync.
                _log.warning("skipping %s: %s", response.href, exc.message)
        return items

    async def aclose(self) -> None:
        await self.client.aclose()


def _describe(item: RemoteItem) -> tuple[str, str, str]:
    etag, href = split_etag(item.etag)
    return item.uid, href, etag
