"""Versioned schema migrations and the runner that applies them.

Append-only: a released migration is never edited (databases that already
applied it would silently differ from new ones); add a new version instead.

Statements are written once for both dialects; the tokens ``{BLOB}``,
``{BIGINT}`` and ``{SERIAL_PK}`` are substituted per dialect by ``render``.
All instants are microseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .base import Store, Transaction

__all__ = ["MIGRATIONS", "Migration", "apply_migrations", "render"]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


_TYPES: dict[str, dict[str, str]] = {
    "sqlite": {
        "{BLOB}": "BLOB",
        "{BIGINT}": "INTEGER",
        # AUTOINCREMENT: never reuse a cursor, even after the newest row is deleted.
        "{SERIAL_PK}": "INTEGER PRIMARY KEY AUTOINCREMENT",
    },
    "postgresql": {
        "{BLOB}": "BYTEA",
        "{BIGINT}": "BIGINT",
        "{SERIAL_PK}": "BIGSERIAL PRIMARY KEY",
    },
}
_LEFTOVER_TOKEN = re.compile(r"\{[A-Z_]+\}")


def render(statement: str, dialect: str) -> str:
    """Substitute the type tokens for ``dialect``."""
    try:
        types = _TYPES[dialect]
    except KeyError:
        raise ValueError(f"unknown SQL dialect {dialect!r}") from None
    for token, sql_type in types.items():
        statement = statement.replace(token, sql_type)
    if leftover := _LEFTOVER_TOKEN.search(statement):
        raise ValueError(f"unknown type token {leftover.group()} in migration SQL")
    return statement


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial schema",
        (
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """CREATE TABLE accounts (
                id TEXT PRIMARY KEY,
                connector TEXT NOT NULL,
                body {BLOB} NOT NULL,
                settings {BLOB} NOT NULL,
                create_time {BIGINT} NOT NULL,
                update_time {BIGINT} NOT NULL
            )""",
            """CREATE TABLE api_tokens (
                id TEXT PRIMARY KEY,
                token_hash TEXT NOT NULL UNIQUE,
                body {BLOB} NOT NULL,
                revoked INTEGER NOT NULL DEFAULT 0,
                create_time {BIGINT} NOT NULL,
                expire_time {BIGINT}
            )""",
            """CREATE TABLE calendars (
                account_id TEXT NOT NULL,
                id TEXT NOT NULL,
                body {BLOB} NOT NULL,
                is_primary INTEGER NOT NULL DEFAULT 0,
                create_time {BIGINT} NOT NULL,
                update_time {BIGINT} NOT NULL,
                PRIMARY KEY (account_id, id)
            )""",
            "CREATE INDEX calendars_by_create_time ON calendars (account_id, create_time, id)",
            """CREATE TABLE schedules (
                account_id TEXT NOT NULL,
                calendar_id TEXT NOT NULL,
                id TEXT NOT NULL,
                body {BLOB} NOT NULL,
                create_time {BIGINT} NOT NULL,
                update_time {BIGINT} NOT NULL,
                PRIMARY KEY (account_id, calendar_id, id)
            )""",
            """CREATE TABLE activities (
                cursor {SERIAL_PK},
                account_id TEXT NOT NULL,
                calendar_id TEXT NOT NULL DEFAULT '',
                resource_type TEXT NOT NULL,
                resource_name TEXT NOT NULL,
                activity_type INTEGER NOT NULL,
                create_time {BIGINT} NOT NULL,
                body {BLOB} NOT NULL
            )""",
            "CREATE INDEX activities_by_cursor ON activities (account_id, cursor)",
            """CREATE TABLE idempotency_keys (
                scope TEXT NOT NULL,
                request_id TEXT NOT NULL,
                request_hash TEXT NOT NULL,
                response {BLOB} NOT NULL,
                create_time {BIGINT} NOT NULL,
                PRIMARY KEY (scope, request_id)
            )""",
        ),
    ),
    Migration(
        2,
        "events and materialized instances",
        (
            # kind: 1 single event, 2 series master, 3 exception (a modified or
            # cancelled instance, keyed by its series and original start).
            # start_us/end_us are instants; all-day and floating times
            # (floating = 1) are stored as if in UTC and queries widen their
            # window by 14 hours, then place them in the calendar's current
            # zone, so a calendar changing its time zone never strands one.
            # busy (0 free, 1 busy, 2 tentative) and declined (the attendee
            # emails that declined, lower-cased, comma-separated) let
            # availability read busy time from the index without bodies.
            # A master's range covers its whole series (end: last instance's
            # end, or the largest BIGINT for an endless series).
            """CREATE TABLE events (
                account_id TEXT NOT NULL,
                calendar_id TEXT NOT NULL,
                id TEXT NOT NULL,
                kind INTEGER NOT NULL,
                series_id TEXT NOT NULL DEFAULT '',
                instance_key TEXT NOT NULL DEFAULT '',
                ical_uid TEXT NOT NULL,
                start_us {BIGINT} NOT NULL,
                end_us {BIGINT} NOT NULL,
                floating INTEGER NOT NULL DEFAULT 0,
                busy INTEGER NOT NULL DEFAULT 1,
                declined TEXT NOT NULL DEFAULT '',
                deleted INTEGER NOT NULL DEFAULT 0,
                horizon_us {BIGINT} NOT NULL DEFAULT 0,
                body {BLOB} NOT NULL,
                create_time {BIGINT} NOT NULL,
                update_time {BIGINT} NOT NULL,
                PRIMARY KEY (account_id, calendar_id, id)
            )""",
            "CREATE INDEX events_by_start ON events (account_id, calendar_id, start_us)",
            "CREATE INDEX events_by_update ON events (account_id, calendar_id, update_time)",
            "CREATE INDEX events_by_uid ON events (account_id, calendar_id, ical_uid)",
            "CREATE INDEX events_by_series ON events (account_id, calendar_id, series_id)",
            # Covers availability's read of busy single events and exceptions,
            # so it never touches the wide rows that carry the bodies.
            "CREATE INDEX events_busy ON events (account_id, calendar_id, start_us, end_us,"
            " kind, deleted, busy, floating, declined, id)",
            "CREATE INDEX events_by_horizon ON events (account_id, calendar_id, kind, horizon_us)",
            # The instances of each master up to its horizon_us, so a range
            # listing is an index scan instead of an expansion of every series.
            # Later instances are expanded on the fly. floating, busy and
            # declined copy the master's, so busy time needs no join.
            """CREATE TABLE event_instances (
                account_id TEXT NOT NULL,
                calendar_id TEXT NOT NULL,
                series_id TEXT NOT NULL,
                instance_key TEXT NOT NULL,
                instance_index INTEGER NOT NULL,
                start_us {BIGINT} NOT NULL,
                end_us {BIGINT} NOT NULL,
                overridden INTEGER NOT NULL DEFAULT 0,
                floating INTEGER NOT NULL DEFAULT 0,
                busy INTEGER NOT NULL DEFAULT 1,
                declined TEXT NOT NULL DEFAULT '',
                PRIMARY KEY (account_id, calendar_id, series_id, instance_key)
            )""",
            "CREATE INDEX event_instances_by_start"
            " ON event_instances (account_id, calendar_id, start_us, end_us, overridden, busy,"
            " floating, declined, series_id, instance_key)",
        ),
    ),
    Migration(
        3,
        "the mirror of remote accounts",
        (
            # One row per remote account: its lease (owner and expiry) and
            # what its sync worker last did. next_run_us 0: due at once.
            """CREATE TABLE sync_state (
                account_id TEXT PRIMARY KEY,
                lease_owner TEXT NOT NULL DEFAULT '',
                lease_until_us {BIGINT} NOT NULL DEFAULT 0,
                next_run_us {BIGINT} NOT NULL DEFAULT 0,
                last_attempt_us {BIGINT} NOT NULL DEFAULT 0,
                last_success_us {BIGINT} NOT NULL DEFAULT 0,
                last_error TEXT NOT NULL DEFAULT '',
                last_error_reason TEXT NOT NULL DEFAULT '',
                failures INTEGER NOT NULL DEFAULT 0
            )""",
            "CREATE INDEX sync_state_due ON sync_state (next_run_us)",
            # Which upstream calendar each mirrored calendar is, its upstream
            # etag and the change token to pull with next.
            """CREATE TABLE mirror_calendars (
                account_id TEXT NOT NULL,
                calendar_id TEXT NOT NULL,
                remote_id TEXT NOT NULL,
                remote_etag TEXT NOT NULL DEFAULT '',
                sync_token TEXT NOT NULL DEFAULT '',
                PRIMARY KEY (account_id, calendar_id)
            )""",
            # The upstream etag of each mirrored object (one per iCalendar
            # UID) and when the mirror last wrote it.
            """CREATE TABLE mirror_items (
                account_id TEXT NOT NULL,
                calendar_id TEXT NOT NULL,
                uid TEXT NOT NULL,
                remote_etag TEXT NOT NULL,
                update_us {BIGINT} NOT NULL,
                PRIMARY KEY (account_id, calendar_id, uid)
            )""",
        ),
    ),
    Migration(
        4,
        "calendar feed subscribers",
        (
            # A subscriber's feed secret is stored as its SHA-256 only, like
            # an API token's; body holds the CalendarSubscriber.
            """CREATE TABLE calendar_subscribers (
                account_id TEXT NOT NULL,
                calendar_id TEXT NOT NULL,
                id TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                blocked INTEGER NOT NULL DEFAULT 0,
                last_fetch_us {BIGINT} NOT NULL DEFAULT 0,
                fetch_count {BIGINT} NOT NULL DEFAULT 0,
                body {BLOB} NOT NULL,
                create_time {BIGINT} NOT NULL,
                PRIMARY KEY (account_id, calendar_id, id)
            )""",
        ),
    ),
    Migration(
        5,
        "the last write-through of each remote account",
        (
            # A pull that began before a write-through went upstream may hold
            # the upstream's state from before it: it is not applied but
            # redone (connectors/sync/worker.py).
            "ALTER TABLE sync_state ADD COLUMN last_write_us {BIGINT} NOT NULL DEFAULT 0",
        ),
    ),
    Migration(
        6,
        "contacts and resources",
        (
            # sort_key: the display name folded (case and accents), for the
            # listing order; search: every searchable text folded the same
            # way, so a query is one LIKE on one column in both dialects.
            """CREATE TABLE contacts (
                account_id TEXT NOT NULL,
                id TEXT NOT NULL,
                sort_key TEXT NOT NULL DEFAULT '',
                search TEXT NOT NULL DEFAULT '',
                body {BLOB} NOT NULL,
                create_time {BIGINT} NOT NULL,
                update_time {BIGINT} NOT NULL,
                PRIMARY KEY (account_id, id)
            )""",
            "CREATE INDEX contacts_by_sort_key ON contacts (account_id, sort_key, id)",
            # email: lower-cased, unique per account (inviting it books the
            # resource); features: ",a,b," lower-cased, for LIKE filters.
            """CREATE TABLE resources (
                account_id TEXT NOT NULL,
                id TEXT NOT NULL,
                email TEXT NOT NULL,
                sort_key TEXT NOT NULL DEFAULT '',
                search TEXT NOT NULL DEFAULT '',
                category INTEGER NOT NULL DEFAULT 0,
                capacity INTEGER NOT NULL DEFAULT 0,
                building TEXT NOT NULL DEFAULT '',
                features TEXT NOT NULL DEFAULT '',
                body {BLOB} NOT NULL,
                create_time {BIGINT} NOT NULL,
                update_time {BIGINT} NOT NULL,
                PRIMARY KEY (account_id, id)
            )""",
            "CREATE UNIQUE INDEX resources_by_email ON resources (account_id, email)",
            "CREATE INDEX resources_by_sort_key ON resources (account_id, sort_key, id)",
        ),
    ),
)

_CREATE_LEDGER = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at {BIGINT} NOT NULL
)"""
# Arbitrary constant shared by every process migrating the same database.
_PG_LOCK_KEY = 0x616C6D616E6163  # "almanac"


def _check_order(migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must be 1, 2, 3, ... in order; got {versions}")


async def _lock(tx: Transaction, dialect: str) -> None:
    """Serialize migrators across processes until this transaction ends.

    SQLite needs nothing: BEGIN IMMEDIATE already holds the database's write lock.
    """
    if dialect == "postgresql":
        await tx.execute("SELECT pg_advisory_xact_lock(?)", _PG_LOCK_KEY)


async def apply_migrations(store: Store, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply pending migrations in order, each in its own transaction.

    Safe when several processes start at once: each migration re-checks the
    ledger under the lock, so exactly one of them applies it. Returns the
    versions this call applied (empty when the schema was current).
    """
    _check_order(migrations)
    dialect = store.dialect
    async with store.transaction() as tx:
        # Under the lock even for IF NOT EXISTS: concurrent CREATE TABLE IF NOT
        # EXISTS can still collide in PostgreSQL's catalog.
        await _lock(tx, dialect)
        await tx.execute(render(_CREATE_LEDGER, dialect))
        rows = await tx.fetchall("SELECT version FROM schema_migrations")
    done = {int(row[0]) for row in rows}
    applied: list[int] = []
    for migration in migrations:
        if migration.version in done:
            continue
        async with store.transaction() as tx:
            await _lock(tx, dialect)
            if await tx.fetchone(
                "SELECT 1 FROM schema_migrations WHERE version = ?", migration.version
            ):
                continue  # another process got there first
            for statement in migration.statements:
                await tx.execute(render(statement, dialect))
            await tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                migration.version,
                migration.name,
                time.time_ns() // 1000,
            )
        applied.append(migration.version)
    return applied
