"""The SQLite store: one writer thread, a few reader threads, WAL.

Every transaction runs on the single writer thread (serialized by an asyncio
lock instead of SQLITE_BUSY retries, and committed in groups: see
`.transaction`). Reads outside transactions see the last committed state:
``fetchall`` goes to a small pool of reader threads, each with its own
connection, while ``fetchone`` (the point reads of every RPC: a token, an
account, a calendar) runs right on the event loop on a connection of its own,
and is answered from memory while no commit has happened since the same read.
Such a read costs a few microseconds in SQLite but a thread hop costs two
wake-ups and a GIL hand-over each way; in WAL mode a reader never waits for
the writer, and if it ever meets a lock (a checkpoint, recovery), it gives up
at once and goes to the reader threads instead of blocking the loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from ..base import Row, Store, StoreError, StoreUnavailable
from .connect import connect, connect_all, map_exceptions, parse_sqlite_url
from .transaction import Group, TransactionBlock, flush_when_free, settle_with, submit_commit
from .workers import Args, Workers, fetchall, fetchone

__all__ = ["SqliteStore"]

# Point reads remembered between commits (see `SqliteStore._cached_fetchone`).
_READ_CACHE_ROWS = 4096


class SqliteStore(Store):
    """A SQLite database file; open with ``await SqliteStore.open(url)``."""

    dialect = "sqlite"

    def __init__(
        self, path: str, conns: list[sqlite3.Connection], inline: sqlite3.Connection | None = None
    ) -> None:
        """Take ownership of connections from ``connect_all`` (writer first)."""
        self.path = path
        self._writer = Workers(conns[:1], "sqlite-writer")
        self._readers = Workers(conns[1:], "sqlite-reader")
        self._inline = inline
        self._read_cache: dict[tuple[str, Args], Row | None] = {}
        self._read_version = -1
        self._write_lock = asyncio.Lock()
        self._waiters = 0  # tasks waiting for the write lock (blocks and flushes)
        self._tx_task: asyncio.Task[Any] | None = None
        self._group: Group | None = None
        self._flushes: set[asyncio.Task[None]] = set()
        self._closed = False
        # COMMITs issued; with blocks counted by callers, how well groups form.
        self.groups_committed = 0

    @classmethod
    async def open(cls, url: str) -> SqliteStore:
        path, readers = parse_sqlite_url(url)
        conns = await asyncio.to_thread(connect_all, path, readers)
        try:
            inline = await asyncio.to_thread(connect, path, reader=True, busy_timeout_ms=0)
        except BaseException:
            for conn in conns:
                conn.close()
            raise
        return cls(path, conns, inline)

    async def fetchone(self, sql: str, *args: object) -> Row | None:
        inline = self._inline
        if inline is not None:
            try:
                with map_exceptions:
                    return self._cached_fetchone(inline, sql, args)
            except StoreUnavailable:
                pass  # locked for a moment: wait for it on a reader thread instead
        return await self._readers.submit(fetchone, sql, args)

    def _cached_fetchone(self, conn: sqlite3.Connection, sql: str, args: Args) -> Row | None:
        """A point read, answered from memory while the database is unchanged.

        ``PRAGMA data_version`` changes whenever another connection (this
        process's writer, or any other process) commits, so a remembered row
        is returned only while no commit has happened since it was read.
        """
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._read_version:
            self._read_cache.clear()
            self._read_version = version
        key = (sql, args)
        try:
            return self._read_cache[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable argument: read it, don't remember it
            return fetchone(conn, sql, args)
        row = fetchone(conn, sql, args)
        if len(self._read_cache) >= _READ_CACHE_ROWS:
            self._read_cache.clear()
        self._read_cache[key] = row
        return row

    async def fetchall(self, sql: str, *args: object) -> list[Row]:
        return await self._readers.submit(fetchall, sql, args)

    def transaction(self) -> TransactionBlock:
        return TransactionBlock(self)

    # -- group commit (called by the transaction blocks, holding the write lock) --

    async def acquire_write(self) -> None:
        """Take the write lock, counted while waiting (see `TransactionBlock._finish`)."""
        self._waiters += 1
        try:
            await self._write_lock.acquire()
        finally:
            self._waiters -= 1

    def committed_alone(self, group: Group, job: asyncio.Future[None]) -> None:
        """``group`` (one block) commits with ``job``; new blocks start a new one."""
        if self._group is group:
            self._group = None
        self.groups_committed += 1
        settle_with(group, job)

    def commit_group(self, group: Group) -> None:
        """Queue the COMMIT of the open group; new blocks start a new one."""
        if self._group is group:
            self._group = None
        self.groups_committed += 1
        submit_commit(self._writer, group)

    def queue_flush(self, group: Group) -> None:
        task = asyncio.get_running_loop().create_task(flush_when_free(self, group))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    def lose_group(self, group: Group, error: BaseException) -> None:
        if self._group is group:
            self._group = None
        group.settle(error)

    async def close(self) -> None:
        if self._closed:
            return
        if self._tx_task is not None and self._tx_task is asyncio.current_task():
            raise StoreError("cannot close the store inside one of its transactions")
        async with self._write_lock:  # let the running transactions finish first
            if self._closed:
                return
            self._closed = True
            group = self._group
            if group is not None:
                self.commit_group(group)
                await asyncio.gather(asyncio.shield(group.committed), return_exceptions=True)
            await asyncio.gather(self._writer.stop(), self._readers.stop())
            if self._inline is not None:
                self._inline.close()
                self._inline = None

    def __repr__(self) -> str:
        return f"<SqliteStore {self.path!r}{' closed' if self._closed else ''}>"
