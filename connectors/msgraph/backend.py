"""``RemoteBackend`` for Microsoft Graph (Outlook / Microsoft 365 calendars).

Writes of an item: the single event or series master is created (POST, with
``transactionId`` = the item's UID) or patched (PATCH with ``If-Match`` on its
``@odata.etag``, after checking the item etag the mirror holds); then each
exception patches its occurrence and each EXDATE deletes one, since Graph
makes exceptions only out of occurrences. Change sync is in :mod:`.delta`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb

from connectors import errors
from connectors.recurrence.times import from_proto
from connectors.remote import ChangeBatch, RemoteBackend, RemoteCalendar, RemoteItem

from . import events
from .calendars import calendar_body, remote_calendar
from .client import DEFAULT_LOGIN, GraphClient
from .delta import DeltaTracker
from .items import ItemEtag, item_of
from .times import format_graph

__all__ = ["GraphBackend"]

_EXPAND = {"$expand": "exceptionOccurrences"}
P = ParamSpec("P")
T = TypeVar("T")


def _readable(method: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """An answer this connector cannot read (not JSON, a member missing or of
    another type) is the upstream failing, never an internal error."""

    @functools.wraps(method)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except errors.ConnectorError:
            raise
        except (KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
            raise errors.Unavailable(
                f"Microsoft Graph sent an answer this connector cannot read ({type(exc).__name__})",
                reason="UPSTREAM_MALFORMED_RESPONSE",
                retry_after=30.0,
            ) from exc

    return wrapped


class GraphBackend(RemoteBackend):
    def __init__(self, account: acc_pb.Account) -> None:
        super().__init__(account)
        s = account.settings.microsoft_graph
        token_url = s.token_url or f"{DEFAULT_LOGIN}/{s.tenant or 'common'}/oauth2/v2.0/token"
        self.client = GraphClient(
            s.api_base_url, token_url, s.client_id, s.client_secret, s.refresh_token
        )
        self._delta = DeltaTracker(self.client, self._read)

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- calendars -------------------------------------------------------------

    @_readable
    async def list_calendars(self) -> list[RemoteCalendar]:
        return [remote_calendar(c) for c in await self._pages("me/calendars")]

    @_readable
    async def create_calendar(self, calendar: cal_pb.Calendar) -> RemoteCalendar:
        _, made, _ = await self.client.call(
            "POST", "me/calendars", json=calendar_body(calendar, creating=True)
        )
        return remote_calendar(made)

    async def _check_calendar(self, remote_id: str, etag: str) -> None:
        # Graph calendars carry a changeKey but take no If-Match: compare first.
        _, current, _ = await self.client.call("GET", f"me/calendars/{remote_id}")
        if etag and remote_calendar(current).etag != etag:
            raise errors.EtagMismatch(
                "the calendar changed in Microsoft Graph", reason="UPSTREAM_ETAG_MISMATCH"
            )

    @_readable
    async def update_calendar(
        self, remote_id: str, calendar: cal_pb.Calendar, etag: str
    ) -> RemoteCalendar:
        await self._check_calendar(remote_id, etag)
        _, made, _ = await self.client.call(
            "PATCH", f"me/calendars/{remote_id}", json=calendar_body(calendar, creating=False)
        )
        return remote_calendar(made)

    @_readable
    async def delete_calendar(self, remote_id: str, etag: str) -> None:
        await self._check_calendar(remote_id, etag)
        await self.client.call("DELETE", f"me/calendars/{remote_id}")

    # -- items -----------------------------------------------------------------

    @_readable
    async def list_items(self, remote_id: str) -> list[RemoteItem]:
        token, found = "", []
        while True:
            batch = await self.changes(remote_id, token)
            found += batch.items
            token = batch.token
            if not batch.more:
                return found

    @_readable
    async def changes(self, remote_id: str, token: str) -> ChangeBatch:
        return await self._delta.changes(remote_id, token)

    async def _read(self, event_id: str) -> RemoteItem:
        _, raw, _ = await self.client.call("GET", f"me/events/{event_id}", params=_EXPAND)
        return item_of(raw)

    async def _current(self, etag: str) -> tuple[ItemEtag, dict[str, Any]]:
        """The item's main event as Graph has it now, after the mirror's etag matched."""
        parsed = ItemEtag.parse(etag)
        if parsed is None:
            raise errors.EtagMismatch(
                "not an etag of this connector", reason="UPSTREAM_ETAG_MISMATCH"
            )
        try:
            _, raw, _ = await self.client.call(
                "GET", f"me/events/{parsed.event_id}", params=_EXPAND
            )
        except errors.NotFound as exc:
            raise errors.EtagMismatch(
                "the event is gone from Microsoft Graph", reason="UPSTREAM_ETAG_MISMATCH"
            ) from exc
        if item_of(raw).etag != etag:
            raise errors.EtagMismatch(
                "the event changed in Microsoft Graph", reason="UPSTREAM_ETAG_MISMATCH"
            )
        return parsed, raw

    @_readable
    async def put_item(self, remote_id: str, item: RemoteItem, etag: str | None) -> str:
        main = next((e for e in item.events if not e.HasField("original_start")), item.events[0])
        body = events.to_graph(main)
        held: dict[str, Any] = {}  # the series as Graph holds it, if it keeps its exceptions
        if etag is None:
            body["transactionId"] = item.uid
            _, raw, _ = await self.client.call(
                "POST", f"me/calendars/{remote_id}/events", json=body
            )
        else:
            _, current = await self._current(etag)
            if not _reshaped(current, body):  # leave the series' shape as Graph has it
                body = {k: v for k, v in body.items() if k not in _SHAPE}
                held = current
            # else Exchange drops the exceptions with the old shape: all are sent again
            _, raw, _ = await self.client.call(
                "PATCH",
                f"me/events/{current['id']}",
                json=body,
                headers={"If-Match": str(current.get("@odata.etag", ""))},
            )
        if main.recurrence.rrules:
            await self._exceptions(str(raw["id"]), main, item.events, held)
        return (await self._read(str(raw["id"]))).etag

    async def _exceptions(
        self,
        master_id: str,
        main: ev_pb.Event,
        all_events: list[ev_pb.Event],
        before: dict[str, Any],
    ) -> None:
        """Patch the occurrences that are (new or changed) exceptions; delete the EXDATEs.

        Graph makes an exception only out of an occurrence, and cancels one by
        deleting it. What Graph already holds (compared through the same
        mapping) is left alone.
        """
        held = {
            str(raw.get("originalStart", ""))[:19]: events.to_graph(
                events.from_graph(raw, "", events.series_zone(before))
            )
            for raw in before.get("exceptionOccurrences") or []
            if not raw.get("isCancelled")
        }
        cancelled = {
            str(oid).rsplit(".", 1)[-1] for oid in before.get("cancelledOccurrences") or []
        }
        for exception in (e for e in all_events if e.HasField("original_start")):
            if exception.status == ev_pb.EVENT_STATUS_CANCELLED:
                await self._cancel(master_id, exception.original_start, cancelled)
                continue
            body = events.to_graph(exception)
            body.pop("recurrence", None)
            key = _utc_text(exception.original_start)
            if key in held and {**held[key], "recurrence": None} == {**body, "recurrence": None}:
                continue
            occurrence = await self._occurrence(master_id, exception.original_start)
            if occurrence is not None:  # else not an occurrence of the series Graph holds
                await self.client.call("PATCH", f"me/events/{occurrence['id']}", json=body)
        for exdate in main.recurrence.exdates:
            await self._cancel(master_id, exdate, cancelled)

    async def _cancel(
        self, master_id: str, original: common_pb2.EventTime, cancelled: set[str]
    ) -> None:
        value = from_proto(original)
        if _series_day(value) in cancelled:
            return
        occurrence = await self._occurrence(master_id, original)
        if occurrence is not None:
            await self.client.call("DELETE", f"me/events/{occurrence['id']}")

    async def _occurrence(
        self, master_id: str, original: common_pb2.EventTime
    ) -> dict[str, Any] | None:
        """The occurrence or exception of a series whose original start is ``original``."""
        value = from_proto(original)
        day = value if not isinstance(value, datetime) else value.astimezone(UTC)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=1)
        params = {
            "startDateTime": format_graph(start),
            "endDateTime": format_graph(start + timedelta(days=3)),
        }
        found = await self._pages(f"me/events/{master_id}/instances", params)
        for raw in found:
            if _same_original(raw, value):
                return raw
        return None

    @_readable
    async def delete_item(self, remote_id: str, uid: str, etag: str) -> None:
        _, current = await self._current(etag)
        await self.client.call(
            "DELETE",
            f"me/events/{current['id']}",
            headers={"If-Match": str(current.get("@odata.etag", ""))},
        )

    async def _pages(self, path: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        url: str | None = path
        while url:
            _, page, _ = await self.client.call("GET", url, params=params if url == path else None)
            found += page.get("value", [])
            url = page.get("@odata.nextLink")
        return found


_SHAPE = ("start", "end", "isAllDay", "recurrence")


def _reshaped(before: dict[str, Any], body: dict[str, Any]) -> bool:
    """Whether a PATCH changes the series' times or pattern, which makes
    Exchange drop every exception and cancellation of the series."""
    try:
        old = events.to_graph(events.from_graph(before, "", events.series_zone(before)))
    except errors.ConnectorError:
        return True
    return any(_shape(old, k) != _shape(body, k) for k in _SHAPE)


def _shape(body: dict[str, Any], key: str) -> Any:
    value = body.get(key)
    if key != "recurrence" or not value:
        return value
    pattern = dict(value["pattern"])
    if pattern.get("interval") == 1 or pattern.get("type") != "weekly":
        pattern.pop("firstDayOfWeek", None)  # only says where a multi-week interval starts
    return {**value, "pattern": pattern}


def _utc_text(original: common_pb2.EventTime) -> str:
    """An original start as Graph's ``originalStart`` begins (UTC, to the second)."""
    value = from_proto(original)
    if not isinstance(value, datetime):
        return f"{value.isoformat()}T00:00:00"
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _series_day(value: date | datetime) -> str:
    """The day of an occurrence in its series' zone, as ``cancelledOccurrences`` names it."""
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def _same_original(raw: dict[str, Any], value: date | datetime) -> bool:
    text = str(raw.get("originalStart") or "")
    if not text:
        return False
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")[:19] + "+00:00")
    if isinstance(value, datetime):
        return moment == value.astimezone(UTC).replace(microsecond=0)
    return moment.date() == value
