"""The worker threads that own SQLite connections, and the jobs they run.

sqlite3 calls block, so none of them run on the event loop (but the inline
point reads of `SqliteStore.fetchone`). The hop to a thread is a SimpleQueue
put plus one ``call_soon_threadsafe`` back, which is leaner than
``run_in_executor`` (no concurrent.futures.Future to chain).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

from ..base import Row, StoreError
from .connect import map_exceptions

__all__ = ["Args", "Job", "Workers", "execute", "executemany", "fetchall", "fetchone"]

T = TypeVar("T")
Args = tuple[object, ...]
# Every job has this shape so the queue item stays a flat tuple.
Job = Callable[[sqlite3.Connection, str, Args], T]
_Item = tuple[Job[Any], str, Args, asyncio.AbstractEventLoop, "asyncio.Future[Any]"]

# --- jobs: run on a worker thread with that worker's connection ---------------


def fetchone(conn: sqlite3.Connection, sql: str, args: Args) -> Row | None:
    cur = conn.execute(sql, args)
    try:
        row: Row | None = cur.fetchone()
        return row
    finally:
        # Resets the statement: a half-read SELECT would otherwise keep its
        # read snapshot open (and block WAL checkpoints) until the next call.
        cur.close()


def fetchall(conn: sqlite3.Connection, sql: str, args: Args) -> list[Row]:
    cur = conn.execute(sql, args)
    try:
        return cur.fetchall()
    finally:
        cur.close()


def executemany(conn: sqlite3.Connection, sql: str, args: Args) -> int:
    cur = conn.executemany(sql, args)  # type: ignore[arg-type]  # args: the rows
    cur.close()
    return 0


def execute(conn: sqlite3.Connection, sql: str, args: Args) -> int:
    cur = conn.execute(sql, args)
    try:
        count = cur.rowcount
    finally:
        cur.close()
    return max(count, 0)  # -1 for DDL and other statements without a count


# --- worker threads -----------------------------------------------------------


def _resolve(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.done():  # the awaiting task was cancelled
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


class Workers:
    """Threads that each own one connection and drain one shared FIFO queue.

    With a single thread the queue also orders jobs: a COMMIT or ROLLBACK
    queued by one transaction runs before the BEGIN of the next.
    """

    def __init__(self, conns: list[sqlite3.Connection], name: str) -> None:
        self._queue: SimpleQueue[_Item | None] = SimpleQueue()
        self._stopped = False
        self._threads = [
            threading.Thread(target=self._run, args=(conn,), name=f"{name}-{i}", daemon=True)
            for i, conn in enumerate(conns)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Job[T], sql: str, args: Args) -> asyncio.Future[T]:
        """Queue a job; the returned future resolves on the calling loop."""
        if self._stopped:
            raise StoreError("store is closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, sql, args, loop, fut))
        return fut

    def _run(self, conn: sqlite3.Connection) -> None:
        get = self._queue.get
        try:
            while (item := get()) is not None:
                self._handle(conn, item)
                # Not kept alive while idle: the last job's arguments and rows.
                del item
        finally:
            conn.close()

    @staticmethod
    def _handle(conn: sqlite3.Connection, item: _Item) -> None:
        fn, sql, args, loop, fut = item
        ok, value = True, None
        try:
            with map_exceptions:
                value = fn(conn, sql, args)
        except BaseException as exc:
            ok, value = False, exc
        try:
            loop.call_soon_threadsafe(_resolve, fut, ok, value)
        except RuntimeError:
            pass  # the loop is closed: nobody is left to wait for the answer

    async def stop(self) -> None:
        """Let queued jobs finish, then close the connections and end the threads."""
        if self._stopped:
            return
        self._stopped = True
        for _ in self._threads:
            self._queue.put(None)
        await asyncio.to_thread(self._join)

    def _join(self) -> None:
        for thread in self._threads:
            thread.join()
