"""Busy time of a calendar, read from the index without event bodies.

Transparent and cancelled events never block time (``busy`` = 0); an event
an attendee declined does not block that attendee's time (``declined``).
This is what availability and free/busy read, so it is kept to index scans.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from almanac.v1 import event_service_pb2 as ev_pb

from connectors.recurrence import expand, to_utc
from connectors.store import Row, Store

from .records import MAX_OFFSET, from_us, place, shift, us
from .writes import BUSY_TENTATIVE

__all__ = ["BusyBlock", "busy_blocks"]


@dataclass(frozen=True, slots=True)
class BusyBlock:
    start_us: int
    end_us: int
    tentative: bool
    event_id: str  # the event or instance id within its calendar


def _declined(declined: str, who: str) -> bool:
    return bool(who) and who in declined.split(",")


async def busy_blocks(
    store: Store,
    account: str,
    calendar: str,
    window_start: datetime,
    window_end: datetime,
    zone: tzinfo,
    who: str = "",
) -> list[BusyBlock]:
    """Blocks overlapping the window, sorted by start. ``who``: the owner's email."""
    lo = us(shift(window_start, -MAX_OFFSET))
    hi = us(shift(window_end, MAX_OFFSET))
    ws, we = us(window_start), us(window_end)
    who = who.lower()
    blocks: list[BusyBlock] = []

    def keep(start_us: int, end_us: int, floating: bool, busy: int, event_id: str) -> None:
        if floating:
            start_us = us(place(start_us, True, zone))
            end_us = us(place(end_us, True, zone))
        if start_us < we and end_us > ws:
            blocks.append(BusyBlock(start_us, end_us, busy == BUSY_TENTATIVE, event_id))

    for row in await store.fetchall(
        "SELECT id, start_us, end_us, floating, busy, declined FROM events"
        " WHERE account_id = ? AND calendar_id = ? AND kind IN (1, 3) AND deleted = 0"
        " AND busy > 0 AND start_us < ? AND end_us > ?",
        account, calendar, hi, lo,
    ):  # fmt: skip
        if not _declined(row["declined"], who):
            keep(row["start_us"], row["end_us"], bool(row["floating"]), row["busy"], row["id"])
    for row in await store.fetchall(
        "SELECT i.series_id, i.instance_key, i.start_us, i.end_us, m.floating, m.busy,"
        " m.declined FROM event_instances i JOIN events m ON m.account_id = i.account_id"
        " AND m.calendar_id = i.calendar_id AND m.id = i.series_id"
        " WHERE i.account_id = ? AND i.calendar_id = ? AND i.start_us < ? AND i.end_us > ?"
        " AND i.overridden = 0 AND m.deleted = 0 AND m.busy > 0",
        account, calendar, hi, lo,
    ):  # fmt: skip
        if not _declined(row["declined"], who):
            event_id = f"{row['series_id']}_{row['instance_key']}"
            keep(row["start_us"], row["end_us"], bool(row["floating"]), row["busy"], event_id)
    for row in await store.fetchall(
        "SELECT id, horizon_us, busy, declined, body FROM events WHERE account_id = ?"
        " AND calendar_id = ? AND kind = 2 AND deleted = 0 AND busy > 0 AND start_us < ?"
        " AND end_us > ? AND horizon_us < ?",
        account, calendar, hi, lo, hi,
    ):  # fmt: skip
        if _declined(row["declined"], who):
            continue
        await _beyond_horizon(store, account, calendar, row, window_start, window_end, zone, keep)
    blocks.sort(key=lambda b: (b.start_us, b.end_us))
    return blocks


async def _beyond_horizon(
    store: Store,
    account: str,
    calendar: str,
    row: Row,
    window_start: datetime,
    window_end: datetime,
    zone: tzinfo,
    keep: Callable[[int, int, bool, int, str], None],
) -> None:
    """Instances past the materialized horizon, expanded now (rarely needed)."""
    master = ev_pb.Event.FromString(bytes(row["body"]))
    horizon_us: int = row["horizon_us"]
    start = max(window_start, shift(from_us(horizon_us), -MAX_OFFSET))
    found = expand(
        master.start, master.end, master.recurrence,
        window_start=start, window_end=window_end, floating_zone=zone,
    )  # fmt: skip
    overridden = {
        r["instance_key"]
        for r in await store.fetchall(
            "SELECT instance_key FROM events WHERE account_id = ? AND calendar_id = ?"
            " AND series_id = ?",
            account,
            calendar,
            row["id"],
        )
    }
    for occurrence in found.occurrences:
        if us(to_utc(occurrence.original_start, UTC)) < horizon_us:
            continue
        if occurrence.instance_id_suffix in overridden:
            continue
        event_id = f"{row['id']}_{occurrence.instance_id_suffix}"
        keep(us(occurrence.start_utc), us(occurrence.end_utc), False, row["busy"], event_id)
