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
- A block's BEGIN or SAVEPOINT travels with its first statement, and a block
  that ends with nobody queued behind it commits in the same trip as its
  RELEASE: a lone write costs what it did before group commit.
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

__all__ = [
    "MAX_GROUP",
    "Group",
    "SqliteTransaction",
    "TransactionBlock",
    "flush_when_free",
    "settle_with",
    "submit_commit",
]

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


def _keep_and_commit(conn: sqlite3.Connection, sql: str, args: Args) -> None:
    """A group of one block: its RELEASE and the COMMIT in a single trip."""
    try:
        _keep_block(conn, sql, args)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    _commit(conn, "", ())


def _after(first: Job[None], job: Job[T]) -> Job[T]:
    """``first`` (the block's BEGIN or SAVEPOINT), then ``job``, in one trip."""

    def chained(conn: sqlite3.Connection, sql: str, args: Args) -> T:
        first(conn, "", ())
        return job(conn, sql, args)

    return chained


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
    __slots__ = ("_closed", "_deferred", "_failed", "_group", "_started", "_writer")

    def __init__(self, writer: Workers, group: Group) -> None:
        self._writer = writer
        self._group = group
        # The BEGIN or SAVEPOINT travels with the block's first job rather
        # than as a job of its own: every trip to the writer thread costs two
        # thread wake-ups, and a block that never touches SQLite costs none.
        self._started = False
        self._deferred: list[tuple[str, Args]] = []
        self._closed = False
        # Mirrors PostgreSQL, where any failed statement aborts the whole
        # transaction; code that swallows an error and carries on would work
        # here and break there.
        self._failed = False

    def opening(self) -> Job[None] | None:
        """The job that opens this block, the first time it is asked for."""
        if self._started:
            return None
        self._started = True
        if self._group.begun:
            return _open_block
        self._group.begun = True
        return _begin_group

    def with_opening(self, job: Job[T]) -> Job[T]:
        opening = self.opening()
        return job if opening is None else _after(opening, job)

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
            return await self._writer.submit(self.with_opening(job), sql, args)
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

    __slots__ = ("begun", "blocks", "committed", "flush_queued")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.committed: asyncio.Future[None] = loop.create_future()
        # Retrieved here so a group nobody waits for logs no "never retrieved".
        self.committed.add_done_callback(_retrieve)
        self.blocks = 0
        self.begun = False  # its BEGIN has been queued
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
        await store.acquire_write()
        if store._closed:
            store._write_lock.release()
            raise StoreError("store is closed")
        group = store._group
        if group is None:
            group = store._group = Group(asyncio.get_running_loop())
        store._tx_task = task
        self._group = group
        self._tx = SqliteTransaction(store._writer, group)
        return self._tx

    def _finish(self, ok: bool) -> asyncio.Future[None] | None:
        """Queue the block's RELEASE or ROLLBACK TO, then let the next block in.

        Releasing the lock before the job runs is safe because the writer runs
        jobs in queue order, so the next block's statements follow ours. None:
        the block never reached SQLite, so there is nothing to wait for.
        """
        store, tx, group = self._store, self._tx, self._group
        assert tx is not None and group is not None
        try:
            if not tx._started and not tx._deferred:
                done = None
            elif not ok:
                done = store._writer.submit(tx.with_opening(_undo_block), "", ())
            elif store._waiters == 0 and group.blocks == 0:
                # Nobody queued behind us and nobody before us in the group:
                # commit in the same trip instead of through a flush.
                done = store._writer.submit(
                    tx.with_opening(_keep_and_commit), "", tuple(tx._deferred)
                )
                store.committed_alone(group, done)
                return done
            else:
                done = store._writer.submit(tx.with_opening(_keep_block), "", tuple(tx._deferred))
                group.blocks += 1
            if group.blocks >= MAX_GROUP:
                store.commit_group(group)
            elif group.begun and not group.flush_queued:
                group.flush_queued = True
                store.queue_flush(group)
            return done
        finally:
            tx._deferred = []
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
        ok = exc_type is None and not tx._failed
        error: BaseException | None = None
        try:
            done = self._finish(ok)
        except StoreError:  # the writer stopped: closing discarded the transaction
            done, error = None, StoreError("store closed before the transaction could commit")
        if done is not None:
            try:
                await done
            except _GroupLost as lost:
                self._store.lose_group(group, lost)
                error = lost
            except BaseException as exc:  # cancellation included: re-raised below
                error = exc
        if not ok:
            if exc_type is None:
                raise StoreError("transaction rolled back: a statement in it failed")
            return  # the body's exception matters more
        if error is not None:
            tx._failed = True
            raise error
        if tx._started:
            await asyncio.shield(group.committed)


async def flush_when_free(store: SqliteStore, group: Group) -> None:
    """Commit ``group`` once the blocks queued at the write lock have joined it."""
    with contextlib.suppress(StoreError):
        await store.acquire_write()
        try:
            if store._group is group:
                store.commit_group(group)
        finally:
            store._write_lock.release()


def submit_commit(writer: Workers, group: Group) -> None:
    """Queue the group's COMMIT; its outcome settles ``group.committed``."""
    if not group.begun:  # no block reached SQLite: nothing to commit
        group.settle(None)
        return
    try:
        job = writer.submit(_commit, "", ())
    except StoreError as exc:
        group.settle(exc)
        return
    settle_with(group, job)


def settle_with(group: Group, job: asyncio.Future[None]) -> None:
    """Let the outcome of ``job`` (a COMMIT) settle ``group.committed``."""
    job.add_done_callback(lambda fut: _settle_from(group, fut))
