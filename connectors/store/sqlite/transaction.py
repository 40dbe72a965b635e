"""Transactions on the single writer, committed in groups.

SQLite admits one writer, and with ``synchronous=FULL`` every COMMIT waits for
an fsync; one fsync per store transaction caps writes at the disk's sync rate.
So store transactions that queue up behind each other share one SQLite
transaction (a *group*) and one COMMIT:

- The first store transaction of a group runs ``BEGIN IMMEDIATE``; each one
  (the first included) is a ``SAVEPOINT``, released when its block succeeds
  and rolled back to when it fails, so each stays all-or-nothing.
- When a block ends, the group is not committed at once: a flush task queues
  at the write lock behind the blocks already waiting for it, so they join the
  group first; then it commits. With nobody waiting it gets the lock at once,
  so a lone write is not delayed. A group holds at most `MAX_GROUP` blocks,
  so other processes' writers are not kept waiting long.
- A block's ``__aexit__`` returns only after its group's COMMIT returned, so
  an acknowledged write is as durable as before. Blocks run one at a time in
  lock order, so activity rows (and their cursors) keep commit order.
- If SQLite drops the whole transaction (I/O error, disk full), every block
  of the group fails with `StoreUnavailable` and none of it is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ..base import StoreError, StoreUnavailable, Transaction
from .workers import Args, Job, Workers, execute, executemany, fetchall, fetchone

if TYPE_CHECKING:
    from .store import SqliteStore

__all__ = ["MAX_GROUP", "Group", "SqliteTransaction", "TransactionBlock"]

T = TypeVar("T")

# Blocks per SQLite transaction; bounds how long the file's write lock is held.
MAX_GROUP = 64
_SAVEPOINT = "almanac_block"


class _GroupLost(StoreUnavailable):
    """SQLite rolled the group's transaction back on its own (I/O error, disk full)."""


# --- jobs: run on the writer thread ------------------------------------------


def _require_transaction(conn: sqlite3.Connection) -> None:
    # BEGIN is queued, not awaited: if it failed, a statement queued behind it
    # must not run in autocommit mode and commit on its own.
    if not conn.in_transaction:
        raise _GroupLost("the shared write transaction was lost; nothing of it was written")


def _in_transaction(fn: Job[T]) -> Job[T]:
    def job(conn: sqlite3.Connection, sql: str, args: Args) -> T:
        _require_transaction(conn)
        return fn(conn, sql, args)

    return job


def _begin_group(conn: sqlite3.Connection, sql: str, args: Args) -> None:
    if conn.in_transaction:
        # Left behind by a transaction whose rollback failed; start clean.
        conn.execute("ROLLBACK")
    # IMMEDIATE takes the write lock now, so another process's writer makes us
    # wait (busy_timeout) here rather than fail halfway through the body.
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(f"SAVEPOINT {_SAVEPOINT}")


def _open_block(conn: sqlite3.Connection, sql: str, args: Args) -> None:
    _require_transaction(conn)
    conn.execute(f"SAVEPOINT {_SAVEPOINT}")


def _undo_block(conn: sqlite3.Connection, sql: str, args: Args) -> None:
    _require_transaction(conn)
    conn.execute(f"ROLLBACK TO {_SAVEPOINT}")
    conn.execute(f"RELEASE {_SAVEPOINT}")


def _keep_block(conn: sqlite3.Connection, sql: str, args: Args) -> None:
    """Run the block's deferred writes, then release its savepoint into the group."""
    _require_transaction(conn)
    try:
        deferred: tuple[tuple[str, Args], ...] = args  # type: ignore[assignment]
        for deferred_sql, deferred_args in deferred:
            conn.execute(deferred_sql, deferred_args).close()
    except BaseException:
        _undo_block(conn, "", ())
        raise
    conn.execute(f"RELEASE {_SAVEPOINT}")


def _commit(conn: sqlite3.Connection, sql: str, args: Args) -> None:
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _with_deferred(fn: Job[T], deferred: list[tuple[str, Args]]) -> Job[T]:
    """One job running the deferred writes, then ``fn``: a single trip to the writer."""
    pending = list(deferred)

    def job(conn: sqlite3.Connection, sql: str, args: Args) -> T:
        _require_transaction(conn)
        for deferred_sql, deferred_args in pending:
            conn.execute(deferred_sql, deferred_args).close()
        return fn(conn, sql, args)

    return job


# --- the transaction a block hands out ----------------------------------------


class SqliteTransaction(Transaction):
    __slots__ = ("_closed", "_deferred", "_failed", "_opened", "_writer")

    def __init__(self, writer: Workers, opened: asyncio.Future[None]) -> None:
        self._writer = writer
        # The SAVEPOINT is queued, not awaited: the writer runs jobs in order,
        # so the first statement follows it without a round trip through the loop.
        self._opened: asyncio.Future[None] | None = opened
        self._deferred: list[tuple[str, Args]] = []
        self._closed = False
        # Mirrors PostgreSQL, where any failed statement aborts the whole
        # transaction; code that swallows an error and carries on would work
        # here and break there.
        self._failed = False

    async def _run(self, fn: Job[T], sql: str, args: Args) -> T:
        if self._closed:
            raise StoreError("transaction is closed")
        if self._failed:
            raise StoreError("transaction is aborted: an earlier statement failed")
        job: Job[T] = _in_transaction(fn)
        if self._deferred:
            job = _with_deferred(fn, self._deferred)
            self._deferred = []
        try:
            result = self._writer.submit(job, sql, args)
            if self._opened is not None:
                opened, self._opened = self._opened, None
                await opened
            return await result
        except BaseException:
            # Includes cancellation, after which we don't know if it ran.
            self._failed = True
            raise

    async def defer(self, sql: str, *args: object) -> None:
        if self._closed:
            raise StoreError("transaction is closed")
        self._deferred.append((sql, args))

    async def execute(self, sql: str, *args: object) -> int:
        return await self._run(execute, sql, args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        if rows:
            await self._run(executemany, sql, tuple(tuple(r) for r in rows))

    async def fetchone(self, sql: str, *args: object) -> Any:
        return await self._run(fetchone, sql, args)

    async def fetchall(self, sql: str, *args: object) -> list[Any]:
        return await self._run(fetchall, sql, args)


# --- groups ---------------------------------------------------------------------


class Group:
    """One SQLite transaction shared by consecutive blocks; ``committed`` settles
    when its COMMIT has run (or the group is lost)."""

    __slots__ = ("blocks", "committed", "flush_queued")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.committed: asyncio.Future[None] = loop.create_future()
        # Retrieved here so a group nobody waits for logs no "never retrieved".
        self.committed.add_done_callback(_retrieve)
        self.blocks = 0
        self.flush_queued = False

    def settle(self, error: BaseException | None) -> None:
        if self.committed.done():
            return
        if error is None:
            self.committed.set_result(None)
        else:
            self.committed.set_exception(error)


def _retrieve(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled():
        fut.exception()


def _settle_from(group: Group, job: asyncio.Future[None]) -> None:
    if job.cancelled():
        group.settle(StoreUnavailable("the commit was interrupted"))
    else:
        group.settle(job.exception())


class TransactionBlock:
    """``async with store.transaction() as tx``: one block of a group (see above)."""

    __slots__ = ("_group", "_store", "_tx")

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._tx: SqliteTransaction | None = None
        self._group: Group | None = None

    async def __aenter__(self) -> Transaction:
        store = self._store
        task = asyncio.current_task()
        if task is not None and store._tx_task is task:
            raise StoreError("transactions do not nest (this task already holds one)")
        if store._closed:
            raise StoreError("store is closed")
        await store._write_lock.acquire()
        try:
            if store._closed:
                raise StoreError("store is closed")
            group = store._group
            if group is None:
                group = store._group = Group(asyncio.get_running_loop())
                opened = store._writer.submit(_begin_group, "", ())
            else:
                opened = store._writer.submit(_open_block, "", ())
        except BaseException:
            store._write_lock.release()
            raise
        store._tx_task = task
        self._group = group
        self._tx = SqliteTransaction(store._writer, opened)
        return self._tx

    def _finish(self, ok: bool) -> asyncio.Future[None] | None:
        """Queue the block's RELEASE or ROLLBACK TO, then let the next block in.

        Releasing the lock before the job runs is safe because the writer runs
        jobs in queue order, so the next block's statements follow ours.
        """
        store, tx, group = self._store, self._tx, self._group
        assert tx is not None and group is not None
        try:
            if ok:
                done = store._writer.submit(_keep_block, "", tuple(tx._deferred))
                group.blocks += 1
            else:
                done = store._writer.submit(_undo_block, "", ())
            tx._deferred = []
            if group.blocks >= MAX_GROUP:
                store.commit_group(group)
            elif not group.flush_queued:
                group.flush_queued = True
                store.queue_flush(group)
            return done
        except StoreError:
            return None  # writer stopped; closing its connection discarded the transaction
        finally:
            store._tx_task = None
            store._write_lock.release()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tx, group = self._tx, self._group
        assert tx is not None and group is not None
        tx._closed = True
        opened, tx._opened = tx._opened, None
        ok = exc_type is None and not tx._failed
        done = self._finish(ok)
        error: BaseException | None = (
            None
            if done is not None
            else StoreError("store closed before the transaction could commit")
        )
        for job in (opened, done):
            if job is None:
                continue
            try:
                await job
            except _GroupLost as lost:
                self._store.lose_group(group, lost)
                error = error or lost
            except BaseException as exc:  # cancellation included: re-raised below
                error = error or exc
        if not ok:
            if exc_type is None:
                raise StoreError("transaction rolled back: a statement in it failed")
            return  # the body's exception matters more
        if error is not None:
            tx._failed = True
            raise error
        await asyncio.shield(group.committed)


async def flush_when_free(store: SqliteStore, group: Group) -> None:
    """Commit ``group`` once the blocks queued at the write lock have joined it."""
    with contextlib.suppress(StoreError):
        async with store._write_lock:
            if store._group is group:
                store.commit_group(group)


def submit_commit(writer: Workers, group: Group) -> None:
    """Queue the group's COMMIT; its outcome settles ``group.committed``."""
    try:
        job = writer.submit(_commit, "", ())
    except StoreError as exc:
        group.settle(exc)
        return
    job.add_done_callback(lambda fut: _settle_from(group, fut))
