"""SQLite backend: the store (`.store`), its connections (`.connect`), the
threads that own them (`.workers`) and group-committed transactions
(`.transaction`)."""

from .connect import parse_sqlite_url
from .store import SqliteStore

__all__ = ["SqliteStore", "parse_sqlite_url"]
