"""Recent busy reads of availability, reused while their account is unchanged.

Every change to an account's events, calendars and schedules appends to its
activity log in the same transaction, so the account's latest cursor is a
version (the same test as `query.ListingCache`): one index lookup tells
whether a calendar's busy time read before can be answered again. A query
over 20 busy calendars reads tens of thousands of rows, and turning them into
Python values is most of its cost; people ask the same question again and
again while they pick a time, and nothing changes in between.

The version is read before the rows: a write between the two makes the
entry older than its version says, so it is read again next time, never the
other way round.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, tzinfo

from connectors.base import BusyRead
from connectors.store import Store

from .busy import Spans, busy_spans_many
from .records import us

__all__ = ["BusyCache", "account_version"]

# Spans kept in all (two ints in a tuple each, about 120 bytes): 40 calendars
# of 10,000 busy blocks in a month, about 50 MB at most.
MAX_SPANS = 400_000

_Key = tuple[str, str, tzinfo, str, int, int]  # account, calendar, zone, who, window


async def account_version(store: Store, account: str) -> int:
    """The account's latest activity cursor: it changes with every write."""
    row = await store.fetchone(
        "SELECT MAX(cursor) AS c FROM activities WHERE account_id = ?", account
    )
    return int(row["c"]) if row is not None and row["c"] is not None else 0


class BusyCache:
    """`busy_spans_many` through recent answers. The spans lists are shared:
    callers must not change them."""

    def __init__(self, max_spans: int = MAX_SPANS) -> None:
        self._max_spans = max_spans
        self._spans = 0
        self._entries: OrderedDict[_Key, tuple[int, Spans]] = OrderedDict()

    async def spans_many(
        self,
        store: Store,
        account: str,
        reads: Sequence[BusyRead],
        window_start: datetime,
        window_end: datetime,
    ) -> list[Spans]:
        version = await account_version(store, account)
        window = (us(window_start), us(window_end))
        keys = [(account, r.calendar, r.zone, r.who, *window) for r in reads]
        found: list[Spans | None] = []
        for key in keys:
            cached = self._entries.get(key)
            if cached is not None and cached[0] == version:
                self._entries.move_to_end(key)
                found.append(cached[1])
            else:
                found.append(None)
        missing = [i for i, spans in enumerate(found) if spans is None]
        if missing:
            read = await busy_spans_many(
                store, account, [reads[i] for i in missing], window_start, window_end
            )
            for i, spans in zip(missing, read, strict=True):
                found[i] = spans
                self._put(keys[i], version, spans)
        return [spans for spans in found if spans is not None]

    def _put(self, key: _Key, version: int, spans: Spans) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._spans -= len(old[1])
        if len(spans) > self._max_spans:
            return
        self._entries[key] = (version, spans)
        self._spans += len(spans)
        while self._spans > self._max_spans:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._spans -= len(dropped)
