"""``RemoteBackend`` for the reference server: the shape of a real connector.

HTTP statuses are mapped into ``connectors.errors`` at this boundary, the
way the CalDAV, Google and Graph connectors map theirs.
"""

from __future__ import annotations

from typing import Any

import httpx
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import json_format

from connectors import errors
from connectors.remote import (
    ChangeBatch,
    RemoteBackend,
    RemoteCalendar,
    RemoteItem,
    SyncTokenExpired,
)

__all__ = ["ReferenceBackend"]


class ReferenceBackend(RemoteBackend):
    def __init__(self, account: acc_pb.Account) -> None:
        super().__init__(account)
        if account.settings.HasField("google"):  # the read-only variant plays Google
            g = account.settings.google
            url, auth = g.api_base_url, (g.client_id, g.client_secret)
        else:
            c = account.settings.caldav
            url, auth = c.url, (c.username, c.password)
        self._client = httpx.AsyncClient(base_url=url.rstrip("/") + "/", auth=auth, timeout=30.0)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            reply = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise errors.Unavailable(
                f"the upstream did not answer: {type(exc).__name__}",
                reason="UPSTREAM_UNAVAILABLE", retry_after=1.0,
            ) from exc  # fmt: skip
        if reply.status_code < 300:
            return reply.json() if reply.content else None
        raise _mapped(reply)

    async def list_calendars(self) -> list[RemoteCalendar]:
        return [_calendar(c) for c in await self._call("GET", "calendars")]

    async def create_calendar(self, calendar: cal_pb.Calendar) -> RemoteCalendar:
        body = json_format.MessageToDict(_props(calendar))
        made = await self._call("POST", "calendars", json=body)
        return RemoteCalendar(made["id"], _props(calendar), made["etag"])

    async def update_calendar(
        self, remote_id: str, calendar: cal_pb.Calendar, etag: str
    ) -> RemoteCalendar:
        body = json_format.MessageToDict(_props(calendar))
        made = await self._call("PUT", f"calendars/{remote_id}", json=body, headers=_if_match(etag))
        return RemoteCalendar(remote_id, _props(calendar), made["etag"])

    async def delete_calendar(self, remote_id: str, etag: str) -> None:
        await self._call("DELETE", f"calendars/{remote_id}", headers=_if_match(etag))

    async def list_items(self, remote_id: str) -> list[RemoteItem]:
        return [_item(i) for i in await self._call("GET", f"calendars/{remote_id}/items")]

    async def put_item(self, remote_id: str, item: RemoteItem, etag: str | None) -> str:
        headers = {"If-None-Match": "*"} if etag is None else _if_match(etag)
        body = {"events": [json_format.MessageToDict(e) for e in item.events]}
        made = await self._call(
            "PUT", f"calendars/{remote_id}/items/{item.uid}", json=body, headers=headers
        )
        return str(made["etag"])

    async def delete_item(self, remote_id: str, uid: str, etag: str) -> None:
        await self._call("DELETE", f"calendars/{remote_id}/items/{uid}", headers=_if_match(etag))

    async def changes(self, remote_id: str, token: str) -> ChangeBatch:
        got = await self._call("GET", f"calendars/{remote_id}/changes", params={"token": token})
        return ChangeBatch(
            [_item(i) for i in got["items"]], list(got["deleted"]), got["token"], got["more"]
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def _if_match(etag: str) -> dict[str, str]:
    return {"If-Match": etag} if etag else {}


def _props(calendar: cal_pb.Calendar) -> cal_pb.Calendar:
    return cal_pb.Calendar(
        display_name=calendar.display_name,
        description=calendar.description,
        color=calendar.color,
        time_zone=calendar.time_zone,
    )


def _calendar(raw: dict[str, Any]) -> RemoteCalendar:
    calendar = json_format.ParseDict(raw["calendar"], cal_pb.Calendar())
    return RemoteCalendar(raw["id"], calendar, raw["etag"], raw["default"])


def _item(raw: dict[str, Any]) -> RemoteItem:
    events = [json_format.ParseDict(e, ev_pb.Event()) for e in raw["events"]]
    return RemoteItem(raw["uid"], raw["etag"], events)


def _mapped(reply: httpx.Response) -> errors.ConnectorError:
    status = reply.status_code
    retry = reply.headers.get("Retry-After")
    retry_after = float(retry) if retry else None
    text = f"upstream answered {status}"
    if status == 401:
        return errors.Unauthenticated(text, reason="UPSTREAM_CREDENTIALS_REJECTED")
    if status == 403:
        return errors.PermissionDenied(text, reason="UPSTREAM_FORBIDDEN")
    if status == 404:
        return errors.NotFound(text)
    if status == 410:
        return SyncTokenExpired(text, reason="SYNC_TOKEN_EXPIRED")
    if status == 412:
        return errors.EtagMismatch(text, reason="UPSTREAM_ETAG_MISMATCH")
    if status == 429:
        return errors.RateLimited(text, retry_after=retry_after, reason="UPSTREAM_RATE_LIMITED")
    return errors.Unavailable(text, retry_after=retry_after, reason="UPSTREAM_UNAVAILABLE")
