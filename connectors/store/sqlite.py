"""SQLite backend: one writer thread, a few reader threads, WAL.

sqlite3 calls block, so none of them run on the event loop. SQLite admits one
writer at a time anyway, so every transaction runs on a single dedicated
writer thread (serialized by an asyncio lock instead of SQLITE_BUSY retries),
while reads outside transactions go to a small pool of reader threads, each
with its own connection; WAL lets them read the last committed state while a
write transaction is open.

The hop to a thread is a SimpleQueue put plus one ``call_soon_threadsafe``
back, which is leaner than ``run_in_executor`` (no concurrent.futures.Future
to chain) and matters on the point-read hot path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from queue import SimpleQueue
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote

from .base import IntegrityError, Row, Store, StoreError, StoreUnavailable, Transaction

__all__ = ["SqliteStore", "parse_sqlite_url"]

T = TypeVar("T")
_Args = tuple[object, ...]
# Every job has this shape so the queue item stays a flat tuple.
_Job = Callable[[sqlite3.Connection, str, _Args], T]
_Item = tuple[_Job[Any], str, _Args, asyncio.AbstractEventLoop, "asyncio.Future[Any]"]

_DEFAULT_READERS = 4
_BUSY_TIMEOUT_MS = 5000

# Extended result codes from sqlite3.h; the module does not name them all.
_DUPLICATE_CODES = frozenset({1555, 2067, 2579})  # CONSTRAINT_PRIMARYKEY, _UNIQUE, _ROWID
# Primary codes that mean "the database is not usable right now" rather than
# "this SQL is wrong": BUSY, LOCKED, IOERR, FULL, CANTOPEN, PROTOCOL.
_UNAVAILABLE_CODES = frozenset({5, 6, 10, 13, 14, 15})


def _translate(exc: sqlite3.Error) -> StoreError:
    code: int | None = getattr(exc, "sqlite_errorcode", None)
    message = str(exc)
    if code is not None:
        if isinstance(exc, sqlite3.IntegrityError) and code in _DUPLICATE_CODES:
            return IntegrityError(message)
        if code & 0xFF in _UNAVAILABLE_CODES:
            return StoreUnavailable(message)
    return StoreError(message)


class _MapExceptions:
    """Turn sqlite3 errors into StoreError subclasses at the backend boundary.

    A class rather than @contextmanager: it wraps every job, and a reusable
    instance costs no generator per call.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, sqlite3.Error):
            raise _translate(exc) from exc


_map_exceptions = _MapExceptions()


def parse_sqlite_url(url: str) -> tuple[str, int]:
    """``sqlite:///rel/path.db`` or ``sqlite:////abs/path.db`` -> (absolute path, readers).

    The only query option is ``readers`` (size of the read pool, default 4).
    """
    scheme, sep, rest = url.partition("://")
    if scheme.lower() != "sqlite" or not sep or not rest.startswith("/"):
        raise ValueError("SQLite URLs look like sqlite:///relative.db or sqlite:////abs/path.db")
    raw_path, _, query = rest[1:].partition("?")
    path = unquote(raw_path)
    if not path or path == ":memory:":
        # Each pooled connection would get its own private in-memory database.
        raise ValueError("SQLite store needs a file path; in-memory databases are not supported")
    readers = _DEFAULT_READERS
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key != "readers":
            raise ValueError(f"unknown SQLite URL option {key!r} (supported: readers)")
        try:
            readers = int(value)
        except ValueError:
            readers = 0
        if readers < 1:
            raise ValueError(f"readers must be a positive integer, got {value!r}")
    # Absolute now, so a later chdir cannot point connections elsewhere.
    return os.path.abspath(path), readers


_CACHE_KIB = 32 * 1024  # per connection


def _enable_wal(conn: sqlite3.Connection, path: str) -> None:
    """Switch the file to WAL, waiting out other processes that open it too.

    The switch needs an exclusive lock, and SQLite answers BUSY to it without
    calling the busy handler when another connection holds a lock (to avoid a
    deadlock), so services starting together on a fresh file would fail. WAL
    is persistent: once any process has switched, the check below skips it.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    if str(mode).lower() != "wal":
        raise StoreError(f"could not enable WAL on {path} (journal_mode={mode})")


def _connect(path: str, *, reader: bool) -> sqlite3.Connection:
    # isolation_level=None: no implicit BEGINs; transactions are explicit.
    # check_same_thread=False: opened here, then owned by exactly one worker.
    conn = sqlite3.connect(
        path,
        timeout=_BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=False,
        cached_statements=256,
    )
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        if not reader:
            _enable_wal(conn, path)
        # FULL syncs the WAL on every commit: a commit that returned survives
        # power loss or an OS crash, not just the death of this process.
        conn.execute("PRAGMA synchronous=FULL")
        # 2 MiB (the default) holds little of a large calendar's indexes; pages
        # are allocated only when read, so an idle store stays small.
        conn.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
        conn.execute("PRAGMA foreign_keys=ON")
        if reader:
            # Writes outside the writer thread would bypass the write lock.
            conn.execute("PRAGMA query_only=ON")
    except BaseException:
        conn.close()
        raise
    return conn


def _connect_all(path: str, readers: int) -> list[sqlite3.Connection]:
    """Open the writer (first) and the readers; blocking, run it on a thread."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    except OSError as exc:
        raise StoreUnavailable(f"cannot create directory for {path}: {exc}") from exc
    conns: list[sqlite3.Connection] = []
    try:
        with _map_exceptions:
            # The writer goes first: it switches the file to WAL before readers attach.
            conns.append(_connect(path, reader=False))
            conns.extend(_connect(path, reader=True) for _ in range(readers))
    except BaseException:
        for conn in conns:
            conn.close()
        raise
    return conns


# --- jobs: run on a worker thread with that worker's connection ---------------


def _fetchone(conn: sqlite3.Connection, sql: str, args: _Args) -> Row | None:
    cur = conn.execute(sql, args)
    try:
        row: Row | None = cur.fetchone()
        return row
    finally:
        # Resets the statement: a half-read SELECT would otherwise keep its
        # read snapshot open (and block WAL checkpoints) until the next call.
        cur.close()


def _fetchall(conn: sqlite3.Connection, sql: str, args: _Args) -> list[Row]:
    cur = conn.execute(sql, args)
    try:
        return cur.fetchall()
    finally:
        cur.close()


def _executemany(conn: sqlite3.Connection, sql: str, args: _Args) -> int:
    cur = conn.executemany(sql, args)  # type: ignore[arg-type]  # args: the rows
    cur.close()
    return 0


def _execute(conn: sqlite3.Connection, sql: str, args: _Args) -> int:
    cur = conn.execute(sql, args)
    try:
        count = cur.rowcount
    finally:
        cur.close()
    return max(count, 0)  # -1 for DDL and other statements without a count


def _with_deferred(
    fn: _Job[T], deferred: list[tuple[str, _Args]], sql: str, args: _Args
) -> tuple[_Job[T], str, _Args]:
    """One job running the deferred writes, then ``fn``: a single trip to the writer."""
    pending = list(deferred)

    def job(conn: sqlite3.Connection, sql: str, args: _Args) -> T:
        try:
            for deferred_sql, deferred_args in pending:
                _require_transaction(conn)
                conn.execute(deferred_sql, deferred_args).close()
        except BaseException:
            if fn is _commit and conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return fn(conn, sql, args)

    return job, sql, args


def _require_transaction(conn: sqlite3.Connection) -> None:
    # BEGIN is queued, not awaited: if it failed, a statement queued behind it
    # must not run in autocommit mode and commit on its own.
    if not conn.in_transaction:
        raise StoreError("the transaction did not begin")


def _in_transaction(fn: _Job[T]) -> _Job[T]:
    def job(conn: sqlite3.Connection, sql: str, args: _Args) -> T:
        _require_transaction(conn)
        return fn(conn, sql, args)

    return job


def _begin(conn: sqlite3.Connection, sql: str, args: _Args) -> None:
    if conn.in_transaction:
        # Left behind by a transaction whose rollback failed; start clean.
        conn.execute("ROLLBACK")
    # IMMEDIATE takes the write lock now, so another process's writer makes us
    # wait (busy_timeout) here rather than fail halfway through the body.
    conn.execute("BEGIN IMMEDIATE")


def _commit(conn: sqlite3.Connection, sql: str, args: _Args) -> None:
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _rollback(conn: sqlite3.Connection, sql: str, args: _Args) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


# --- worker threads -----------------------------------------------------------


def _resolve(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.done():  # the awaiting task was cancelled
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


class _Workers:
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

    def submit(self, fn: _Job[T], sql: str, args: _Args) -> asyncio.Future[T]:
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
            with _map_exceptions:
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


# --- the store ----------------------------------------------------------------


class _SqliteTransaction(Transaction):
    __slots__ = ("_begin", "_closed", "_deferred", "_failed", "_writer")

    def __init__(self, writer: _Workers, begin: asyncio.Future[None]) -> None:
        self._writer = writer
        # BEGIN is queued, not awaited: the writer runs jobs in order, so the
        # first statement follows it without a round trip through the loop.
        self._begin: asyncio.Future[None] | None = begin
        self._deferred: list[tuple[str, _Args]] = []
        self._closed = False
        # Mirrors PostgreSQL, where any failed statement aborts the whole
        # transaction; code that swallows an error and carries on would work
        # here and break there.
        self._failed = False

    async def _run(self, fn: _Job[T], sql: str, args: _Args) -> T:
        if self._closed:
            raise StoreError("transaction is closed")
        if self._failed:
            raise StoreError("transaction is aborted: an earlier statement failed")
        job: _Job[T] = _in_transaction(fn)
        if self._deferred:
            job, sql, args = _with_deferred(fn, self._deferred, sql, args)
            self._deferred = []
        try:
            result = self._writer.submit(job, sql, args)
            if self._begin is not None:
                begin, self._begin = self._begin, None
                await begin
            return await result
        except BaseException:
            # Includes cancellation, after which we don't know if it ran.
            self._failed = True
            raise

    async def defer(self, sql: str, *args: object) -> None:
        if self._closed:
            raise StoreError("transaction is closed")
        self._deferred.append((sql, args))

    def finish_job(self, finish: _Job[None]) -> tuple[_Job[None], str, _Args]:
        """The COMMIT job, carrying any deferred writes (flushed first)."""
        if not self._deferred:
            return finish, "", ()
        job, sql, args = _with_deferred(finish, self._deferred, "", ())
        self._deferred = []
        return job, sql, args

    async def execute(self, sql: str, *args: object) -> int:
        return await self._run(_execute, sql, args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        if rows:
            await self._run(_executemany, sql, tuple(tuple(r) for r in rows))

    async def fetchone(self, sql: str, *args: object) -> Row | None:
        return await self._run(_fetchone, sql, args)

    async def fetchall(self, sql: str, *args: object) -> list[Row]:
        return await self._run(_fetchall, sql, args)


class _TransactionBlock:
    """``async with store.transaction() as tx``: BEGIN IMMEDIATE ... COMMIT/ROLLBACK."""

    __slots__ = ("_store", "_tx")

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._tx: _SqliteTransaction | None = None

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
            begin = store._writer.submit(_begin, "", ())
        except BaseException:
            store._write_lock.release()
            raise
        store._tx_task = task
        self._tx = _SqliteTransaction(store._writer, begin)
        return self._tx

    def _release(
        self, finish: _Job[None], sql: str = "", args: _Args = ()
    ) -> asyncio.Future[None] | None:
        """Queue COMMIT/ROLLBACK, then let the next transaction in.

        Releasing before the job completes is safe because the writer runs
        jobs in queue order, so the next BEGIN waits behind ours.
        """
        store = self._store
        try:
            return store._writer.submit(finish, sql, args)
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
        tx = self._tx
        assert tx is not None
        tx._closed = True
        begin, tx._begin = tx._begin, None
        if exc_type is None and not tx._failed:
            done = self._release(*tx.finish_job(_commit))
            if done is None:
                raise StoreError("store closed before the transaction could commit")
            try:
                if begin is not None:
                    await begin
                await done
            except BaseException:
                tx._failed = True
                raise
            return
        tx._deferred = []
        done = self._release(_rollback)
        if begin is not None:
            with contextlib.suppress(Exception):
                await begin
        if done is not None:
            try:
                await done
            except Exception:
                pass  # the body's exception matters more; the next BEGIN cleans up
        if exc_type is None:
            raise StoreError("transaction rolled back: a statement in it failed")


class SqliteStore(Store):
    """A SQLite database file; open with ``await SqliteStore.open(url)``."""

    dialect = "sqlite"

    def __init__(self, path: str, conns: list[sqlite3.Connection]) -> None:
        """Take ownership of connections from ``_connect_all`` (writer first)."""
        self.path = path
        self._writer = _Workers(conns[:1], "sqlite-writer")
        self._readers = _Workers(conns[1:], "sqlite-reader")
        self._write_lock = asyncio.Lock()
        self._tx_task: asyncio.Task[Any] | None = None
        self._closed = False

    @classmethod
    async def open(cls, url: str) -> SqliteStore:
        path, readers = parse_sqlite_url(url)
        conns = await asyncio.to_thread(_connect_all, path, readers)
        return cls(path, conns)

    async def fetchone(self, sql: str, *args: object) -> Row | None:
        return await self._readers.submit(_fetchone, sql, args)

    async def fetchall(self, sql: str, *args: object) -> list[Row]:
        return await self._readers.submit(_fetchall, sql, args)

    def transaction(self) -> _TransactionBlock:
        return _TransactionBlock(self)

    async def close(self) -> None:
        if self._closed:
            return
        if self._tx_task is not None and self._tx_task is asyncio.current_task():
            raise StoreError("cannot close the store inside one of its transactions")
        async with self._write_lock:  # let the running transactions finish first
            if self._closed:
                return
            self._closed = True
            await asyncio.gather(self._writer.stop(), self._readers.stop())

    def __repr__(self) -> str:
        return f"<SqliteStore {self.path!r}{' closed' if self._closed else ''}>"
