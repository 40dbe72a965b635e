"""The state store: a tiny async SQL layer over SQLite or PostgreSQL.

Usage::

    store = await open_store("sqlite:///./data/almanac.db")
    async with store.transaction() as tx:
        await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "k", "v")
    row = await store.fetchone("SELECT value FROM meta WHERE key = ?", "k")
    await store.close()
"""

from __future__ import annotations

from .base import IntegrityError, Row, Store, StoreError, StoreUnavailable, Transaction
from .migrations import MIGRATIONS, Migration, apply_migrations
from .postgres import PostgresStore
from .sqlite import SqliteStore

__all__ = [
    "MIGRATIONS",
    "IntegrityError",
    "Migration",
    "PostgresStore",
    "Row",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "Transaction",
    "apply_migrations",
    "open_store",
]


async def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the store at ``url`` and, unless ``migrate=False``, bring its schema up to date.

    ``sqlite:///relative/path.db``, ``sqlite:////abs/path.db``,
    ``postgresql://user@host:port/dbname`` (or ``postgres://``).
    Raises ValueError for a malformed URL, StoreUnavailable when the
    database cannot be reached.
    """
    # Only the scheme goes into the message: the URL may carry a password.
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    store: Store
    if scheme == "sqlite":
        store = await SqliteStore.open(url)
    elif scheme in ("postgresql", "postgres"):
        store = await PostgresStore.open(url)
    else:
        raise ValueError(
            f"unsupported store URL scheme {scheme!r}: expected sqlite:///path/to.db "
            "or postgresql://user@host:port/dbname"
        )
    if migrate:
        try:
            await apply_migrations(store)
        except BaseException:
            await store.close()
            raise
    return store
