"""``RemoteBackend`` for Google Calendar API v3 (accounts of CONNECTOR_TYPE_GOOGLE).

Every method runs under :func:`_readable`: a reply the connector cannot read
(not JSON, a missing id, a wrong type) is UNAVAILABLE, never INTERNAL, and
leaves the mirror untouched like any other upstream failure.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import httpx
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb

from connectors import errors
from connectors.remote import ChangeBatch, RemoteBackend, RemoteCalendar, RemoteItem
from connectors.telemetry import upstream_hooks

from .calendars import CalendarApi
from .http import Api
from .items import EventApi
from .oauth import TokenSource

__all__ = ["DEFAULT_API", "DEFAULT_TOKEN_URL", "GoogleBackend"]

T = TypeVar("T")

DEFAULT_API = "https://www.googleapis.com"
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"


class GoogleBackend(RemoteBackend):
    def __init__(self, account: acc_pb.Account) -> None:
        super().__init__(account)
        settings = account.settings.google
        self._client = httpx.AsyncClient(timeout=30.0, event_hooks=upstream_hooks("google"))
        self.tokens = TokenSource(
            self._client,
            settings.token_url or DEFAULT_TOKEN_URL,
            settings.client_id,
            settings.client_secret,
            settings.refresh_token,
        )
        api = Api(self._client, settings.api_base_url or DEFAULT_API, self.tokens)
        self._calendars = CalendarApi(api)
        self._events = EventApi(api)

    async def list_calendars(self) -> list[RemoteCalendar]:
        return await _readable(self._calendars.list())

    async def create_calendar(self, calendar: cal_pb.Calendar) -> RemoteCalendar:
        return await _readable(self._calendars.create(calendar))

    async def update_calendar(
        self, remote_id: str, calendar: cal_pb.Calendar, etag: str
    ) -> RemoteCalendar:
        # Google's calendars.patch has no If-Match on the calendarList etag we
        # hold, so the last writer wins for calendar properties.
        return await _readable(self._calendars.update(remote_id, calendar))

    async def delete_calendar(self, remote_id: str, etag: str) -> None:
        await _readable(self._calendars.delete(remote_id))

    async def list_items(self, remote_id: str) -> list[RemoteItem]:
        items: dict[str, RemoteItem] = {}
        token = ""
        while True:
            batch = await _readable(self._events.changes(remote_id, token))
            items.update((i.uid, i) for i in batch.items)
            token = batch.token
            if not batch.more:
                return list(items.values())

    async def put_item(self, remote_id: str, item: RemoteItem, etag: str | None) -> str:
        await self._require_writer(remote_id)
        return await _readable(self._events.put(remote_id, item, etag))

    async def delete_item(self, remote_id: str, uid: str, etag: str) -> None:
        await self._require_writer(remote_id)
        await _readable(self._events.delete(remote_id, uid, etag))

    async def changes(self, remote_id: str, token: str) -> ChangeBatch:
        return await _readable(self._events.changes(remote_id, token))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _require_writer(self, remote_id: str) -> None:
        # Google would answer 403 too; asking first spares a doomed request.
        if not await _readable(self._calendars.writable(remote_id)):
            raise errors.PermissionDenied(
                "the account may only read this Google calendar", reason="UPSTREAM_FORBIDDEN"
            )


async def _readable(call: Awaitable[T]) -> T:
    try:
        return await call
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise errors.Unavailable(
            f"Google Calendar sent a reply the connector cannot read ({type(exc).__name__})",
            reason="UPSTREAM_MALFORMED_REPLY",
            retry_after=30.0,
        ) from exc
