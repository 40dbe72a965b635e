"""Opening SQLite: the store URL, the connections (WAL, durability pragmas)
and the mapping of sqlite3 errors to the store's own at the backend boundary."""

from __future__ import annotations

import os
import sqlite3
import time
from types import TracebackType
from urllib.parse import parse_qsl, unquote

from ..base import IntegrityError, StoreError, StoreUnavailable

__all__ = ["BUSY_TIMEOUT_MS", "connect", "connect_all", "map_exceptions", "parse_sqlite_url"]

_DEFAULT_READERS = 4
BUSY_TIMEOUT_MS = 5000

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


map_exceptions = _MapExceptions()


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
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
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


def connect(
    path: str, *, reader: bool, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> sqlite3.Connection:
    # isolation_level=None: no implicit BEGINs; transactions are explicit.
    # check_same_thread=False: opened here, then owned by exactly one worker
    # (or by the event loop, for the inline reads).
    conn = sqlite3.connect(
        path,
        timeout=busy_timeout_ms / 1000,
        isolation_level=None,
        check_same_thread=False,
        cached_statements=256,
    )
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
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


def connect_all(path: str, readers: int) -> list[sqlite3.Connection]:
    """Open the writer (first) and the readers; blocking, run it on a thread."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    except OSError as exc:
        raise StoreUnavailable(f"cannot create directory for {path}: {exc}") from exc
    conns: list[sqlite3.Connection] = []
    try:
        with map_exceptions:
            # The writer goes first: it switches the file to WAL before readers attach.
            conns.append(connect(path, reader=False))
            conns.extend(connect(path, reader=True) for _ in range(readers))
    except BaseException:
        for conn in conns:
            conn.close()
        raise
    return conns
