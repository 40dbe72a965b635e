"""Busy time of a calendar, read from the index without event bodies.

Transparent and cancelled events never block time (``busy`` = 0); an event
an attendee declined does not block that attendee's time (``declined``).
This is what availability and free/busy read, so it stays index scans and
plain tuples: a query over 20 busy calendars returns tens of thousands.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from almanac.v1 import event_service_pb2 as ev_pb

from connectors.base import BusyBlock
from connectors.recurrence import expand, to_utc
from connectors.store import Row, Store, Transaction

from .records import MAX_OFFSET, from_us, place, shift, us
from .writes import BUSY_TENTATIVE

__all__ = ["busy_blocks"]


# Exact window for timed rows; all-day and floating rows (stored as UTC) are
# read 14 hours wider and placed in the calendar's zone here.
_WINDOW = "AND start_us < ? AND end_us > ? AND (floating = 1 OR (start_us < ? AND end_us > ?))"
# The owner's email is not among the decliners (a comma-separated list).
# LIKE works in both SQLite and PostgreSQL; the email is escaped for it.
_NOT_DECLINED = "AND (declined = '' OR (',' || declined || ',') NOT LIKE ? ESCAPE '\\')"


def _declined_pattern(who: str) -> str:
    escaped = who.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%,{escaped},%"


async def busy_blocks(
    store: Store | Transaction,  # a transaction when booking checks a resource
    account: str,
    calendar: str,
    window_start: datetime,
    window_end: datetime,
    zone: tzinfo,
    who: str = "",
    *,
    with_ids: bool = False,
) -> list[BusyBlock]:
    """Blocks overlapping the window, sorted. ``who``: the owner's email."""
    ws, we = us(window_start), us(window_end)
    lo, hi = us(shift(window_start, -MAX_OFFSET)), us(shift(window_end, MAX_OFFSET))
    args = (account, calendar, hi, lo, we, ws, _declined_pattern(who))
    single_id = ", id" if with_ids else ""
    instance_id = ", series_id || '_' || instance_key" if with_ids else ""
    rows = await store.fetchall(
        f"SELECT start_us, end_us, busy, floating{single_id} FROM events"
        " WHERE account_id = ? AND calendar_id = ? AND kind IN (1, 3) AND deleted = 0"
        f" AND busy > 0 {_WINDOW} {_NOT_DECLINED}",
        *args,
    )
    rows += await store.fetchall(
        # Instances carry their master's busy facts: no join, an index scan.
        f"SELECT start_us, end_us, busy, floating{instance_id} FROM event_instances"
        f" WHERE account_id = ? AND calendar_id = ? AND overridden = 0 AND busy > 0"
        f" {_WINDOW} {_NOT_DECLINED}",
        *args,
    )
    blocks: list[BusyBlock] = []
    for row in rows:
        start, end = row[0], row[1]
        if row[3]:
            start, end = us(place(start, True, zone)), us(place(end, True, zone))
            if not (start < we and end > ws):
                continue
        blocks.append(BusyBlock(start, end, row[2] == BUSY_TENTATIVE, row[4] if with_ids else ""))
    for master in await store.fetchall(
        "SELECT id, horizon_us, busy, body FROM events WHERE account_id = ?"
        " AND calendar_id = ? AND kind = 2 AND deleted = 0 AND busy > 0 AND horizon_us < ?"
        f" AND start_us < ? AND end_us > ? {_NOT_DECLINED}",
        account, calendar, hi, hi, lo, _declined_pattern(who),
    ):  # fmt: skip
        blocks += await _beyond_horizon(
            store, account, calendar, master, window_start, window_end, zone
        )
    blocks.sort()
    return blocks


async def _beyond_horizon(
    store: Store | Transaction,
    account: str,
    calendar: str,
    row: Row,
    window_start: datetime,
    window_end: datetime,
    zone: tzinfo,
) -> list[BusyBlock]:
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
    tentative = row["busy"] == BUSY_TENTATIVE
    return [
        BusyBlock(us(o.start_utc), us(o.end_utc), tentative, f"{row['id']}_{o.instance_id_suffix}")
        for o in found.occurrences
        if us(to_utc(o.original_start, UTC)) >= horizon_us
        and o.instance_id_suffix not in overridden
    ]
