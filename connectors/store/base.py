"""The storage contract every backend implements.

SQL is written once, in the common subset of SQLite and PostgreSQL, with ``?``
placeholders; backends translate what they must. Values crossing the boundary
are only ``str``, ``int``, ``bytes`` and ``None`` so that both drivers agree on
them without adapters (callers store booleans as 0/1).
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Protocol

__all__ = [
    "IntegrityError",
    "Row",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "Transaction",
]


class StoreError(Exception):
    """Any failure raised by the store; the driver's exception is ``__cause__``."""


class IntegrityError(StoreError):
    """A unique or primary-key constraint rejected the write.

    Deliberately narrow: callers turn this into ALREADY_EXISTS, which would be
    a lie for NOT NULL or foreign-key failures (those stay plain StoreError).
    """


class StoreUnavailable(StoreError):
    """The database could not be reached (or is too busy); worth retrying later."""


class Row(Protocol):
    """A result row, indexable by position and by column name.

    Both ``sqlite3.Row`` and ``asyncpg.Record`` satisfy this, so backends
    hand rows out without copying them. Compare ``tuple(row)``, not rows:
    a Record equals a tuple, a sqlite3.Row does not.
    """

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...  # the values, in column order

    def __len__(self) -> int: ...


class Transaction(abc.ABC):
    """Work inside ``Store.transaction()``; invalid once the block exits."""

    __slots__ = ()

    @abc.abstractmethod
    async def execute(self, sql: str, *args: object) -> int:
        """Run one statement; return the number of rows it changed (0 for DDL)."""

    async def defer(self, sql: str, *args: object) -> None:
        """Run a write whose result nobody reads, no later than the commit.

        A backend may send it along with the next statement or the COMMIT
        (SQLite does: one trip to the writer thread instead of two); a failure
        then fails that later step and rolls the transaction back. The
        default runs it at once.
        """
        await self.execute(sql, *args)

    @abc.abstractmethod
    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """Run one statement once per parameter row, in one round trip."""

    @abc.abstractmethod
    async def fetchone(self, sql: str, *args: object) -> Row | None:
        """First row of the result (sees this transaction's own writes)."""

    @abc.abstractmethod
    async def fetchall(self, sql: str, *args: object) -> list[Row]:
        """All rows of the result (sees this transaction's own writes)."""


class Store(abc.ABC):
    """A connection pool to one database.

    ``fetchone``/``fetchall`` are for reads outside a transaction and see the
    last committed state; they do not see writes of a transaction that is
    still open, even from the same task. Writes go through ``transaction()``
    (SQLite's read connections are query-only, so a write there fails).
    """

    dialect: str  # "sqlite" | "postgresql"

    @abc.abstractmethod
    async def fetchone(self, sql: str, *args: object) -> Row | None:
        """First row of the result, or None."""

    @abc.abstractmethod
    async def fetchall(self, sql: str, *args: object) -> list[Row]:
        """All rows of the result."""

    async def listen(
        self, channel: str, callback: Callable[[str], None]
    ) -> Callable[[], Awaitable[None]] | None:
        """Call ``callback`` with the payload whenever a transaction notifies ``channel``.

        Returns an async function that stops listening, or None when the
        backend cannot notify (SQLite): the caller polls instead, which is
        the correct-but-slower default.
        """
        return None

    @abc.abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Commit on clean exit; roll back and re-raise on exception.

        Transactions do not nest: opening one while the same task already
        holds one raises StoreError (SQLite has a single writer, so waiting
        would deadlock). Other tasks simply wait their turn on SQLite.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Wait for open transactions, then release every connection. Idempotent."""

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
