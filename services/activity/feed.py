"""One tail of the activity log per process, shared by every stream.

A single task reads new rows (woken by LISTEN/NOTIFY on PostgreSQL, polling
on SQLite) into a ring of the most recent activities. Streams read the ring
at their own pace, so a slow subscriber holds no one up: it only falls off
the ring's end, which its stream reports so the client resumes from its
cursor. Several processes each run their own feed over the same log, so any
replica can serve any subscriber.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections.abc import Awaitable, Callable

from connectors.state.activity import ACTIVITY_CHANNEL
from connectors.state.activity_log import (
    LogRow,
    latest_cursor,
    notice_scope,
    parse_notice,
    read_after,
)
from connectors.store import Store

__all__ = ["Feed"]

_log = logging.getLogger("almanac.activity")

BATCH = 1000


class Feed:
    def __init__(
        self,
        store: Store,
        *,
        poll_seconds: float = 0.01,
        notified_poll_seconds: float = 1.0,
        ring_size: int = 10_000,
    ) -> None:
        self._store = store
        self._poll = poll_seconds
        self._notified_poll = notified_poll_seconds
        self._ring_size = ring_size
        self._ring: list[LogRow] = []
        # The ring's cursors, kept alongside: every stream bisects once per row
        # it is sent, and a key function costs a Python call per step.
        self._cursors: list[int] = []
        self.head = 0  # the newest cursor read
        self.floor = 0  # every row after this cursor, up to head, is in the ring
        self._poke = asyncio.Event()
        # Done when rows arrive, then replaced: a plain future, since every
        # stream waits on it and asyncio.Event.wait costs each a task.
        self._new: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop_listening: Callable[[], Awaitable[None]] | None = None
        self._scope: str | None = None  # until known, every notice is a doorbell
        self.closed = False

    async def start(self) -> None:
        self.head = self.floor = await latest_cursor(self._store)
        self._stop_listening = await self._store.listen(ACTIVITY_CHANNEL, self._notified)
        if self._stop_listening is not None:
            self._scope = await notice_scope(self._store)
        self._task = asyncio.create_task(self._run(), name="activity-feed")

    async def _run(self) -> None:
        interval = self._notified_poll if self._stop_listening else self._poll
        while not self.closed:
            try:
                rows = await read_after(self._store, self.head, BATCH)
            except Exception:  # the store is down: keep trying, streams keep heartbeating
                _log.exception("reading the activity log failed; retrying")
                rows = []
                await asyncio.sleep(1.0)
            if rows:
                self._append(rows)
                if len(rows) == BATCH:
                    continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), interval)
            self._poke.clear()

    def _notified(self, payload: str) -> None:
        """A notice: take its row if it follows our newest, else read the log."""
        notice = parse_notice(payload, self._scope) if self._scope is not None else None
        if notice is None:
            self._poke.set()
            return
        previous, row = notice
        if row.cursor <= self.head:  # a read of the log already brought it
            return
        if previous == self.head:
            # The writer saw `previous` as the newest row under the append
            # lock: nothing lies between, so this row extends the ring as is.
            self._append([row])
        else:
            self._poke.set()

    def _append(self, rows: list[LogRow]) -> None:
        # A notice may have brought some of these while the read was under way.
        if rows[0].cursor <= self.head:
            rows = [r for r in rows if r.cursor > self.head]
            if not rows:
                return
        self._ring.extend(rows)
        self._cursors.extend(r.cursor for r in rows)
        self.head = rows[-1].cursor
        if len(self._ring) > 2 * self._ring_size:
            # Trim in bulk so appends stay amortized O(1).
            cut = len(self._ring) - self._ring_size
            self.floor = self._ring[cut - 1].cursor
            del self._ring[:cut]
            del self._cursors[:cut]
        self._wake()

    def _wake(self) -> None:
        new, self._new = self._new, None
        if new is not None and not new.done():
            new.set_result(None)

    def since(self, position: int) -> list[LogRow] | None:
        """Rows after ``position`` from the ring; None if they left it (or never were)."""
        if position < self.floor:
            return None
        if position >= self.head:
            return []
        start = bisect.bisect_right(self._cursors, position)
        return self._ring[start:]

    async def wait(self, position: int, seconds: float) -> bool:
        """Wait until a row after ``position`` arrives; False on timeout or close."""
        if self.head > position:
            return True
        if self.closed:
            return False
        if self._new is None:
            self._new = asyncio.get_running_loop().create_future()
        # asyncio.wait neither wraps the future in a task nor cancels it on
        # timeout, so one shared future serves every stream.
        await asyncio.wait((self._new,), timeout=seconds)
        return self.head > position and not self.closed

    async def close(self) -> None:
        self.closed = True
        self._poke.set()
        self._wake()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._stop_listening is not None:
            await self._stop_listening()
