"""PostgreSQL backend on an asyncpg pool.

URL: ``postgresql://user[:password]@host:port/dbname`` (``postgres://`` too).
Our own query options, removed before the URL reaches asyncpg (which would
send unknown options to the server as settings): ``pool_min`` (default 1),
``pool_max`` (default 10) and ``connect_timeout`` in seconds (default 10).
Other options, e.g. ``sslmode`` or ``search_path``, pass through.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from .base import IntegrityError, Row, Store, StoreError, StoreUnavailable, Transaction

__all__ = ["PostgresOptions", "PostgresStore", "parse_postgres_url", "to_numbered_placeholders"]

_SCHEMES = frozenset({"postgresql", "postgres"})

# Quoted strings, quoted identifiers and comments are copied verbatim so a
# '?' inside them is not mistaken for a placeholder. (No dollar-quoting or
# E'' backslash escapes: our SQL does not use them.)
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\?", re.DOTALL)


@functools.lru_cache(maxsize=4096)
def to_numbered_placeholders(sql: str) -> str:
    """Rewrite ``?`` placeholders to ``$1..$n``; cached per SQL string."""
    if "?" not in sql:
        return sql
    counter = 0

    def number(match: re.Match[str]) -> str:
        nonlocal counter
        if match.group() != "?":
            return match.group()
        counter += 1
        return f"${counter}"

    return _TOKENS.sub(number, sql)


@dataclass(frozen=True, slots=True)
class PostgresOptions:
    dsn: str
    pool_min: int = 1
    pool_max: int = 10
    connect_timeout: float = 10.0


def parse_postgres_url(url: str) -> PostgresOptions:
    parts = urlsplit(url)
    if parts.scheme.lower() not in _SCHEMES:
        raise ValueError("PostgreSQL URLs look like postgresql://user@host:port/dbname")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    try:
        pool_min = int(query.pop("pool_min", "1"))
        pool_max = int(query.pop("pool_max", "10"))
        connect_timeout = float(query.pop("connect_timeout", "10"))
    except ValueError as exc:
        raise ValueError(f"bad PostgreSQL URL option: {exc}") from exc
    if pool_max < 1 or not 0 <= pool_min <= pool_max:
        raise ValueError(
            f"need 0 <= pool_min <= pool_max and pool_max >= 1 (got {pool_min}, {pool_max})"
        )
    if connect_timeout <= 0:
        raise ValueError("connect_timeout must be positive")
    dsn = urlunsplit(parts._replace(query=urlencode(query)))
    return PostgresOptions(dsn, pool_min, pool_max, connect_timeout)


class _MapExceptions:
    """httpx-style ``map_exceptions``: first matching source type wins.

    A reusable instance rather than @contextmanager, since it wraps every query.
    """

    __slots__ = ("_mapping",)

    def __init__(self, mapping: tuple[tuple[type[BaseException], type[StoreError]], ...]) -> None:
        self._mapping = mapping

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Only Exception: cancellation must pass through untouched.
        if not isinstance(exc, Exception) or isinstance(exc, StoreError):
            return
        for source, target in self._mapping:
            if isinstance(exc, source):
                raise target(str(exc) or type(exc).__name__) from exc


_LOST: tuple[tuple[type[BaseException], type[StoreError]], ...] = (
    # OSError covers refused connections and TimeoutError (an OSError since 3.10).
    (OSError, StoreUnavailable),
    (asyncpg.PostgresConnectionError, StoreUnavailable),  # SQLSTATE class 08
    (asyncpg.CannotConnectNowError, StoreUnavailable),  # starting up / recovering
    (asyncpg.AdminShutdownError, StoreUnavailable),
    (asyncpg.CrashShutdownError, StoreUnavailable),
    (asyncpg.TooManyConnectionsError, StoreUnavailable),
)
# Around queries: duplicates become IntegrityError, everything else StoreError.
_map_query = _MapExceptions(
    (
        (asyncpg.UniqueViolationError, IntegrityError),
        *_LOST,
        (asyncpg.PostgresError, StoreError),
        (asyncpg.InterfaceError, StoreError),  # incl. DataError: bad argument types
        (asyncpg.InternalClientError, StoreError),
    )
)
# Around the first connect: any failure there (bad password, missing
# database, ...) means the store is not reachable as configured.
_map_connect = _MapExceptions(
    (
        *_LOST,
        (asyncpg.PostgresError, StoreUnavailable),
        (asyncpg.InterfaceError, StoreUnavailable),
    )
)


def _rowcount(status: str) -> int:
    # asyncpg returns the command tag: "INSERT 0 3", "UPDATE 2", "CREATE TABLE".
    tail = status.rpartition(" ")[2]
    return int(tail) if tail.isdigit() else 0


class _PostgresTransaction(Transaction):
    __slots__ = ("_closed", "_conn", "_failed")

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._closed = False
        self._failed = False  # PostgreSQL itself refuses further statements after an error

    def _check(self) -> None:
        if self._closed:
            raise StoreError("transaction is closed")
        if self._failed:
            raise StoreError("transaction is aborted: an earlier statement failed")

    async def execute(self, sql: str, *args: object) -> int:
        self._check()
        try:
            with _map_query:
                status: str = await self._conn.execute(to_numbered_placeholders(sql), *args)
        except BaseException:
            self._failed = True
            raise
        return _rowcount(status)

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self._check()
        if not rows:
            return
        try:
            with _map_query:
                await self._conn.executemany(to_numbered_placeholders(sql), rows)
        except BaseException:
            self._failed = True
            raise

    async def fetchone(self, sql: str, *args: object) -> Row | None:
        self._check()
        try:
            with _map_query:
                row: Row | None = await self._conn.fetchrow(to_numbered_placeholders(sql), *args)
        except BaseException:
            self._failed = True
            raise
        return row

    async def fetchall(self, sql: str, *args: object) -> list[Row]:
        self._check()
        try:
            with _map_query:
                rows: list[Row] = await self._conn.fetch(to_numbered_placeholders(sql), *args)
        except BaseException:
            self._failed = True
            raise
        return rows


class _TransactionBlock:
    """Acquire a pooled connection and run one transaction on it."""

    __slots__ = ("_conn", "_store", "_task", "_tr", "_tx")

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self._conn: Any = None
        self._tr: Any = None
        self._tx: _PostgresTransaction | None = None
        self._task: asyncio.Task[Any] | None = None

    async def __aenter__(self) -> Transaction:
        store = self._store
        task = asyncio.current_task()
        if task is not None and task in store._tx_tasks:
            # Would work here (another connection) but deadlock on SQLite.
            raise StoreError("transactions do not nest (this task already holds one)")
        store._check_open()
        with _map_query:
            conn = await store._pool.acquire()
        try:
            tr = conn.transaction()
            with _map_query:
                await tr.start()
        except BaseException:
            await store._pool.release(conn)
            raise
        self._conn, self._tr, self._task = conn, tr, task
        if task is not None:
            store._tx_tasks.add(task)
        self._tx = _PostgresTransaction(conn)
        return self._tx

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tx = self._tx
        assert tx is not None
        tx._closed = True
        if self._task is not None:
            self._store._tx_tasks.discard(self._task)
        try:
            if exc_type is None and not tx._failed:
                with _map_query:
                    await self._tr.commit()
                return
            try:
                await self._tr.rollback()
            except Exception:
                pass  # connection probably broken; release() resets or discards it
            if exc_type is None:
                raise StoreError("transaction rolled back: a statement in it failed")
        finally:
            await self._store._pool.release(self._conn)


class PostgresStore(Store):
    """A PostgreSQL database; open with ``await PostgresStore.open(url)``."""

    dialect = "postgresql"

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._tx_tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        opts = parse_postgres_url(url)
        with _map_connect:
            pool = await asyncpg.create_pool(
                opts.dsn,
                min_size=opts.pool_min,
                max_size=opts.pool_max,
                timeout=opts.connect_timeout,
            )
        return cls(pool)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("store is closed")

    async def fetchone(self, sql: str, *args: object) -> Row | None:
        self._check_open()
        with _map_query:
            row: Row | None = await self._pool.fetchrow(to_numbered_placeholders(sql), *args)
        return row

    async def fetchall(self, sql: str, *args: object) -> list[Row]:
        self._check_open()
        with _map_query:
            rows: list[Row] = await self._pool.fetch(to_numbered_placeholders(sql), *args)
        return rows

    def transaction(self) -> _TransactionBlock:
        return _TransactionBlock(self)

    async def listen(
        self, channel: str, callback: Callable[[str], None]
    ) -> Callable[[], Awaitable[None]] | None:
        """LISTEN on a connection held from the pool until the returned stop()."""
        self._check_open()
        with _map_connect:
            conn = await self._pool.acquire()

        def on_notify(_conn: object, _pid: int, _channel: str, payload: str) -> None:
            callback(payload)

        try:
            with _map_query:
                await conn.add_listener(channel, on_notify)
        except BaseException:
            await self._pool.release(conn)
            raise

        async def stop() -> None:
            try:
                await conn.remove_listener(channel, on_notify)
            finally:
                await self._pool.release(conn)

        return stop

    async def close(self) -> None:
        if self._closed:
            return
        if asyncio.current_task() in self._tx_tasks:
            raise StoreError("cannot close the store inside one of its transactions")
        self._closed = True
        # Waits for acquired connections, i.e. lets open transactions finish.
        await self._pool.close()

    def __repr__(self) -> str:
        return f"<PostgresStore{' closed' if self._closed else ''}>"
