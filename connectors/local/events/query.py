"""Listing events: index scans, then filters, order and a keyset page.

A listing reads three index ranges (single events and exceptions, the
materialized instances, the masters overlapping the window), widened by the
largest UTC offset so all-day and floating rows can be placed in the
calendar's current zone before the exact overlap test. Instances past a
series' materialization horizon are expanded on the fly. Protos are built
only for the page returned.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from almanac.v1 import event_service_pb2 as ev_pb

from connectors.base import EventQuery, Page, PageRequest
from connectors.errors import InvalidArgument
from connectors.recurrence import (
    Occurrence,
    TimeValue,
    expand,
    find_occurrence,
    from_proto,
    parse_instance_suffix,
    to_utc,
)
from connectors.store import Row, Store
from connectors.store.rows import us_from_timestamp

from .records import (
    ENDLESS_US,
    KIND_MASTER,
    MAX_OFFSET,
    from_us,
    place,
    project_instance,
    shift,
    us,
)

__all__ = ["ListingCache", "list_events"]


@dataclass(order=True)
class _Item:
    key: tuple[int, str]
    build: Callable[[], ev_pb.Event] = field(compare=False)


def _matches(event: ev_pb.Event, q: EventQuery) -> bool:
    if q.category and q.category not in event.categories:
        return False
    if q.event_type and event.event_type != q.event_type:
        return False
    if q.attendee_email:
        emails = {a.email.lower() for a in event.attendees}
        emails.add(event.organizer.email.lower())
        if q.attendee_email not in emails:
            return False
    if q.attending_email and not any(
        a.email.lower() == q.attending_email and a.response_status != ev_pb.RESPONSE_STATUS_DECLINED
        for a in event.attendees
    ):
        return False
    if q.text:
        haystack = f"{event.display_name}\n{event.description}\n{event.location}".lower()
        if q.text not in haystack:
            return False
    return True


def _overlaps(start: datetime, end: datetime, q: EventQuery) -> bool:
    if q.window_end is not None and start >= q.window_end:
        return False
    if q.window_start is None:
        return True
    # RFC 4791 9.9: a zero-length event is in the range when it starts in it.
    return end > q.window_start or (start == end and start >= q.window_start)


def _primary(q: EventQuery, start: datetime, create_us: int, update_us: int) -> int:
    if q.order_field == "create_time":
        value = create_us
    elif q.order_field == "update_time":
        value = update_us
    else:
        value = us(start)
    return -value if q.descending else value


def _bounds(q: EventQuery) -> tuple[int, int]:
    lo = us(shift(q.window_start, -MAX_OFFSET)) if q.window_start else -ENDLESS_US
    hi = us(shift(q.window_end, MAX_OFFSET)) if q.window_end else ENDLESS_US
    return lo, hi


async def _rows(
    store: Store, account: str, calendar: str, q: EventQuery
) -> tuple[list[Row], list[Row], list[Row]]:
    lo, hi = _bounds(q)
    scope = "account_id = ? AND calendar_id = ?"
    deleted = "" if q.show_deleted else " AND deleted = 0"
    series = " AND (series_id = ? OR id = ?)" if q.only_series else ""
    series_args = [q.only_series, q.only_series] if q.only_series else []
    kinds = "1, 3" if q.instances else "1, 2, 3"
    events = await store.fetchall(
        f"SELECT id, kind, series_id, start_us, end_us, floating, create_time, update_time, body"
        f" FROM events"
        f" WHERE {scope} AND kind IN ({kinds}) AND start_us < ? AND end_us >= ?{deleted}{series}",
        account, calendar, hi, lo, *series_args,
    )  # fmt: skip
    if not q.instances:
        return events, [], []
    only = " AND series_id = ?" if q.only_series else ""
    instances = await store.fetchall(
        f"SELECT series_id, instance_key, instance_index, start_us, end_us FROM event_instances"
        f" WHERE {scope} AND start_us < ? AND end_us >= ? AND overridden = 0{only}",
        account, calendar, hi, lo, *series_args[:1],
    )  # fmt: skip
    only = " AND id = ?" if q.only_series else ""
    masters = await store.fetchall(
        f"SELECT id, horizon_us, floating, create_time, update_time, body FROM events"
        f" WHERE {scope} AND kind = {KIND_MASTER}"
        f" AND deleted = 0 AND start_us < ? AND end_us >= ?{only}",
        account, calendar, hi, lo, *series_args[:1],
    )  # fmt: skip
    return events, instances, masters


async def _exception_keys(store: Store, account: str, calendar: str, series: str) -> set[str]:
    rows = await store.fetchall(
        "SELECT instance_key FROM events"
        " WHERE account_id = ? AND calendar_id = ? AND series_id = ?",
        account,
        calendar,
        series,
    )
    return {r["instance_key"] for r in rows}


class _Body:
    """An event's stored bytes, parsed on first use (most rows never need it)."""

    __slots__ = ("_data", "_event")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._event: ev_pb.Event | None = None

    def get(self) -> ev_pb.Event:
        """The parsed event, shared: for reading only."""
        if self._event is None:
            self._event = ev_pb.Event.FromString(self._data)
        return self._event

    def fresh(self) -> ev_pb.Event:
        """A copy the caller may change (responses are edited before sending)."""
        return ev_pb.Event.FromString(self._data)


def _has_content_filter(q: EventQuery) -> bool:
    return bool(q.category or q.event_type or q.attendee_email or q.attending_email or q.text)


async def collect(store: Store, account: str, calendar: str, q: EventQuery) -> list[_Item]:
    """Every event the query matches, sorted, each with a lazy proto builder."""
    events, instance_rows, master_rows = await _rows(store, account, calendar, q)
    content = _has_content_filter(q)
    items: list[_Item] = []
    for row in events:
        floating = bool(row["floating"])
        start = place(row["start_us"], floating, q.zone)
        end = place(row["end_us"], floating, q.zone)
        if not _overlaps(start, end, q):
            continue
        if q.updated_after_us is not None and row["update_time"] <= q.updated_after_us:
            continue
        body = _Body(bytes(row["body"]))
        if content and not _matches(body.get(), q):
            continue
        primary = _primary(q, start, row["create_time"], row["update_time"])
        items.append(_Item((primary, _name(account, calendar, row["id"])), body.fresh))

    masters: dict[str, tuple[_Body, Row]] = {}
    for row in master_rows:
        if q.updated_after_us is not None and row["update_time"] <= q.updated_after_us:
            continue
        body = _Body(bytes(row["body"]))
        if content and not _matches(body.get(), q):
            continue
        masters[row["id"]] = (body, row)
    for row in instance_rows:
        found = masters.get(row["series_id"])
        if found is None:
            continue
        body, master_row = found
        floating = bool(master_row["floating"])
        start = place(row["start_us"], floating, q.zone)
        end = place(row["end_us"], floating, q.zone)
        if not _overlaps(start, end, q):
            continue
        primary = _primary(q, start, master_row["create_time"], master_row["update_time"])
        name = _name(account, calendar, f"{row['series_id']}_{row['instance_key']}")
        items.append(_Item((primary, name), _from_row(body, row)))
    for series_id, (body, master_row) in masters.items():
        horizon_us = master_row["horizon_us"]
        if q.window_end is not None and horizon_us >= us(shift(q.window_end, MAX_OFFSET)):
            continue
        await _beyond_horizon(store, account, calendar, q, series_id, body.get(), horizon_us, items)
    if len(items) > q.limit and q.truncate:
        items.sort()
        return items[: q.limit]
    if len(items) > q.limit:
        raise InvalidArgument(
            f"the request matches more than {q.limit} events or instances; narrow the range",
            violations=[("end_time", f"at most {q.limit} results per listing")],
            reason="TOO_MANY_INSTANCES",
        )
    items.sort()
    return items


def _name(account: str, calendar: str, event_id: str) -> str:
    return f"accounts/{account}/calendars/{calendar}/events/{event_id}"


def _from_row(master: _Body, row: Row) -> Callable[[], ev_pb.Event]:
    """Build a materialized instance from its row, without walking the series."""
    key: str = row["instance_key"]
    index: int = row["instance_index"]
    end_us: int = row["end_us"]

    def build() -> ev_pb.Event:
        event = master.get()
        original = parse_instance_suffix(key)
        kind = event.start.WhichOneof("value")
        if kind == "date_time":
            start_zone = ZoneInfo(event.start.time_zone or "UTC")
            end_zone = ZoneInfo(event.end.time_zone or event.start.time_zone or "UTC")
            assert isinstance(original, datetime)
            original = original.astimezone(start_zone)
            end: TimeValue = from_us(end_us).astimezone(end_zone)
        else:
            # All-day and floating instances last as long as the master, in
            # days or wall-clock time.
            end = original + (from_proto(event.end) - from_proto(event.start))
        occurrence = Occurrence(original, end, from_us(0), from_us(end_us), index, key)
        return project_instance(event, occurrence)

    return build


async def _beyond_horizon(
    store: Store,
    account: str,
    calendar: str,
    q: EventQuery,
    series_id: str,
    master: ev_pb.Event,
    horizon_us: int,
    items: list[_Item],
) -> None:
    """Instances the materialization did not reach, expanded now."""
    start = max(q.window_start, shift(from_us(horizon_us), -MAX_OFFSET)) if q.window_start else None
    found = expand(
        master.start,
        master.end,
        master.recurrence,
        window_start=start,
        window_end=q.window_end,
        floating_zone=q.zone,
        limit=q.limit + 1,
    )
    overridden: set[str] | None = None
    for occurrence in found.occurrences:
        if us(to_utc(occurrence.original_start, UTC)) < horizon_us:
            continue  # materialized: listed (or overridden) from event_instances
        if overridden is None:
            overridden = await _exception_keys(store, account, calendar, series_id)
        if occurrence.instance_id_suffix in overridden:
            continue
        if _overlaps(occurrence.start_utc, occurrence.end_utc, q):
            items.append(
                _instance_item(q, master, occurrence.instance_id_suffix, occurrence.start_utc)
            )
    if found.truncated and not q.truncate:
        raise InvalidArgument(
            f"the request expands more than {q.limit} instances; narrow the range",
            violations=[("end_time", f"at most {q.limit} instances per listing")],
            reason="TOO_MANY_INSTANCES",
        )


def _instance_item(q: EventQuery, master: ev_pb.Event, key: str, start: datetime) -> _Item:
    def build() -> ev_pb.Event:
        occurrence = find_occurrence(
            master.start, master.end, master.recurrence, parse_instance_suffix(key),
            floating_zone=q.zone,
        )  # fmt: skip
        if occurrence is None:  # the rows and the series disagree: a bug, not input
            raise RuntimeError(f"{master.name}_{key} is not an occurrence of its series")
        return project_instance(master, occurrence)

    primary = _primary(
        q, start, us_from_timestamp(master.create_time), us_from_timestamp(master.update_time)
    )
    return _Item((primary, f"{master.name}_{key}"), build)


def page_of(items: Sequence[_Item], page: PageRequest) -> Page[ev_pb.Event]:
    """The page after ``page.position`` (a sort key), with the next position.

    With ``page.max_bytes`` the page stops early rather than outgrow a
    response's size limit (65 KB descriptions times 1000 would).
    """
    begin = 0
    if page.position:
        primary, _, name = page.position.partition(":")
        begin = bisect.bisect_right(items, _Item((int(primary), name), lambda: ev_pb.Event()))
    chunk = items[begin : begin + page.size]
    built: list[ev_pb.Event] = []
    budget = page.max_bytes
    for item in chunk:
        event = item.build()
        if budget is not None:
            budget -= event.ByteSize() + 8
            if budget < 0 and built:
                break
        built.append(event)
    more = begin + len(built) < len(items)
    last = chunk[len(built) - 1] if built else None
    next_position = f"{last.key[0]}:{last.key[1]}" if more and last else None
    return Page(built, next_position, len(items))


class ListingCache:
    """The sorted result of recent listings, reused by their later pages.

    Every change to an account's events appends to its activity log in the
    same transaction, so the account's latest cursor is a version: a cached
    listing is used only while it is unchanged (one index lookup per page).
    """

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, str, EventQuery], tuple[int, list[_Item]]] = (
            OrderedDict()
        )

    async def items(self, store: Store, account: str, calendar: str, q: EventQuery) -> list[_Item]:
        row = await store.fetchone(
            "SELECT MAX(cursor) AS c FROM activities WHERE account_id = ?", account
        )
        version = int(row["c"]) if row is not None and row["c"] is not None else 0
        key = (account, calendar, q)
        cached = self._entries.get(key)
        if cached is not None and cached[0] == version:
            self._entries.move_to_end(key)
            return cached[1]
        found = await collect(store, account, calendar, q)
        self._entries[key] = (version, found)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return found


async def list_events(
    store: Store,
    account: str,
    calendar: str,
    q: EventQuery,
    page: PageRequest,
    cache: ListingCache | None = None,
) -> Page[ev_pb.Event]:
    items = await (
        cache.items(store, account, calendar, q) if cache else collect(store, account, calendar, q)
    )
    return page_of(items, page)
