"""Busy time of a calendar, read from the index without event bodies.

Transparent and cancelled events never block time (``busy`` = 0); an event
an attendee declined does not block that attendee's time (``declined``).
This is what availability and free/busy read, so it stays index scans and
plain tuples: a query over 20 busy calendars returns tens of thousands.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

from almanac.v1 import event_service_pb2 as ev_pb

from connectors.base import BusyBlock, BusyRead
from connectors.recurrence import expand, to_utc
from connectors.store import Row, Store, Transaction

from .records import MAX_OFFSET, from_us, place, shift, us
from .writes import BUSY_TENTATIVE

__all__ = ["busy_blocks", "busy_blocks_many", "busy_spans_many"]


# Exact window for timed rows; all-day and floating rows (stored as UTC) are
# read 14 hours wider and placed in the calendar's zone here.
_WINDOW = "AND start_us < ? AND end_us > ? AND (floating = 1 OR (start_us < ? AND end_us > ?))"
# The owner's email is not among the decliners (a comma-separated list).
# LIKE works in both SQLite and PostgreSQL; the email is escaped for it.
_NOT_DECLINED = "AND (declined = '' OR (',' || declined || ',') NOT LIKE ? ESCAPE '\\')"


def _declined_pattern(who: str) -> str:
    escaped = who.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%,{escaped},%"


# Every branch of the batched read answers three integers: the range and a
# tag, ``calendar * 4 + tentative * 2 + floating`` (the calendar's position in
# the batch). Turning a row's values into Python objects is most of the cost
# of the read, so the tag packs what would be three more columns into one; a
# negative tag, ``-1 - calendar``, marks a series that runs past its
# materialized horizon. With ids, a fourth column carries them.
_TAG = f"{{i}} * 4 + (CASE WHEN busy = {BUSY_TENTATIVE} THEN 2 ELSE 0 END) + floating"
_SINGLES = (
    f"SELECT start_us, end_us, {_TAG}{{ident}} FROM events"
    " WHERE account_id = ? AND calendar_id = ? AND kind IN (1, 3) AND deleted = 0"
    f" AND busy > 0 {_WINDOW} {_NOT_DECLINED}"
)
# Instances carry their master's busy facts: no join, an index scan.
_INSTANCES = (
    f"SELECT start_us, end_us, {_TAG}{{ident}} FROM event_instances"
    " WHERE account_id = ? AND calendar_id = ? AND overridden = 0 AND busy > 0"
    f" {_WINDOW} {_NOT_DECLINED}"
)
_PAST_HORIZON = (
    "FROM events WHERE account_id = ? AND calendar_id = ? AND kind = 2 AND deleted = 0"
    f" AND busy > 0 AND horizon_us < ? AND start_us < ? AND end_us > ? {_NOT_DECLINED}"
)
_MASTERS = "SELECT horizon_us, 0, -1 - {i}{ident} " + _PAST_HORIZON

Spans = list[tuple[int, int]]


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
    (blocks,) = await busy_blocks_many(
        store, account, [BusyRead(calendar, zone, who)], window_start, window_end,
        with_ids=with_ids,
    )  # fmt: skip
    return blocks


async def busy_blocks_many(
    store: Store | Transaction,
    account: str,
    reads: Sequence[BusyRead],
    window_start: datetime,
    window_end: datetime,
    *,
    with_ids: bool = False,
) -> list[list[BusyBlock]]:
    """`busy_blocks` of several calendars of one account, in one statement."""
    batch = _Batch(reads, window_start, window_end)
    found: list[list[BusyBlock]] = [[] for _ in reads]
    for row in await batch.rows(store, account, with_ids):
        tag = row[2]
        if tag < 0:
            batch.past_horizon.add(-1 - tag)
        elif span := batch.placed(tag, row[0], row[1]):
            ident = row[3] if with_ids else ""
            found[tag >> 2].append(BusyBlock(span[0], span[1], bool(tag & 2), ident))
    for c in batch.past_horizon:
        found[c] += await batch.beyond_horizon(store, account, c)
    for blocks in found:
        blocks.sort()
    return found


async def busy_spans_many(
    store: Store,
    account: str,
    reads: Sequence[BusyRead],
    window_start: datetime,
    window_end: datetime,
) -> list[Spans]:
    """Only the sorted ranges of `busy_blocks_many`: availability's common case."""
    batch = _Batch(reads, window_start, window_end)
    found: list[Spans] = [[] for _ in reads]
    for start, end, tag in await batch.rows(store, account, False):
        if tag < 0:
            batch.past_horizon.add(-1 - tag)
        elif span := batch.placed(tag, start, end):
            found[tag >> 2].append(span)
    for c in batch.past_horizon:
        found[c] += [(b.start_us, b.end_us) for b in await batch.beyond_horizon(store, account, c)]
    for spans in found:
        spans.sort()
    return found


class _Batch:
    """One batched read: its statement, and the decoding of its rows.

    A statement per table and calendar costs a trip to a reader thread each,
    which under load costs more than the rows: one ``UNION ALL`` of the same
    index scans (the owner's email differs per calendar) makes it one trip.
    """

    def __init__(self, reads: Sequence[BusyRead], window_start: datetime, window_end: datetime):
        self.reads = reads
        self.window_start, self.window_end = window_start, window_end
        self.ws, self.we = us(window_start), us(window_end)
        self.lo = us(shift(window_start, -MAX_OFFSET))
        self.hi = us(shift(window_end, MAX_OFFSET))
        self.past_horizon: set[int] = set()  # calendars with such a series

    async def rows(self, store: Store | Transaction, account: str, with_ids: bool) -> list[Row]:
        if not self.reads:
            return []
        single_id = ", id" if with_ids else ""
        instance_id = ", series_id || '_' || instance_key" if with_ids else ""
        parts: list[str] = []
        args: list[object] = []
        for i, read in enumerate(self.reads):
            parts += [
                _SINGLES.format(i=i, ident=single_id),
                _INSTANCES.format(i=i, ident=instance_id),
                _MASTERS.format(i=i, ident=", ''" if with_ids else ""),
            ]
            pattern = _declined_pattern(read.who)
            window_args = (account, read.calendar, self.hi, self.lo, self.we, self.ws, pattern)
            args += [*window_args, *window_args]
            args += [account, read.calendar, self.hi, self.hi, self.lo, pattern]
        return await store.fetchall(" UNION ALL ".join(parts), *args)

    def placed(self, tag: int, start: int, end: int) -> tuple[int, int] | None:
        """A block's real range; None: not in the window after all."""
        if tag & 1:  # all-day or floating: stored as UTC, placed in the zone now
            zone = self.reads[tag >> 2].zone
            start, end = us(place(start, True, zone)), us(place(end, True, zone))
            if not (start < self.we and end > self.ws):
                return None
        return start, end

    async def beyond_horizon(
        self, store: Store | Transaction, account: str, c: int
    ) -> list[BusyBlock]:
        read = self.reads[c]
        found: list[BusyBlock] = []
        for master in await store.fetchall(
            f"SELECT id, horizon_us, busy, body {_PAST_HORIZON}",
            account, read.calendar, self.hi, self.hi, self.lo, _declined_pattern(read.who),
        ):  # fmt: skip
            found += await _beyond_horizon(
                store, account, read.calendar, master, self.window_start, self.window_end,
                read.zone,
            )  # fmt: skip
        return found


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
