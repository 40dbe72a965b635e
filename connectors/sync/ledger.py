"""The mirror's bookkeeping: sync state and leases per account, and which
upstream object each mirrored calendar and event series came from.

A lease is one conditional UPDATE, atomic on SQLite and PostgreSQL alike, so
any number of sync workers (or replicas of them) never work on one account at
once. Every apply of upstream changes re-checks the lease inside its own
transaction, so a worker that lost its lease while it was pulling (paused,
slow, partitioned) cannot write what it pulled.
"""

from __future__ import annotations

from dataclasses import dataclass

from almanac.v1 import account_service_pb2 as acc_pb

from connectors.errors import ConnectorError
from connectors.store import Row, Store, Transaction
from connectors.store.rows import now_us, timestamp_from_us

__all__ = [
    "MIRROR_TABLES",
    "LeaseLost",
    "MirrorCalendar",
    "PullRaced",
    "SyncTotals",
    "acquire_lease",
    "check_fresh",
    "drop_mirror_calendar",
    "due_accounts",
    "enroll_remote_accounts",
    "failures",
    "find_mirror_calendar",
    "item_etag",
    "item_etags",
    "mirror_calendars",
    "mirrored_uids",
    "note_write",
    "record_failure",
    "record_success",
    "release_lease",
    "renew_lease",
    "request_sync",
    "set_item",
    "set_mirror_calendar",
    "set_sync_token",
    "sync_state",
    "sync_totals",
]


# Tables of the mirror keyed by account, dropped with the account.
MIRROR_TABLES = ("sync_state", "mirror_calendars", "mirror_items")


class LeaseLost(ConnectorError):
    """Another worker holds the account now; drop what was pulled."""


class PullRaced(ConnectorError):
    """A write-through went upstream while this pull ran: pull again."""


async def note_write(tx: Transaction, account: str) -> None:
    """Inside a write-through's transaction: pulls begun before now are stale."""
    await tx.execute(
        "UPDATE sync_state SET last_write_us = ? WHERE account_id = ?", now_us(), account
    )


async def check_fresh(tx: Transaction, account: str, pull_started_us: int) -> None:
    """Raise PullRaced if a write-through committed after the pull began.

    Such a pull may hold the upstream as it was before the write (a deleted
    event still there), and applying it would undo the write in the mirror.
    Run inside the apply's transaction, so a write cannot slip in between.
    """
    row = await tx.fetchone("SELECT last_write_us FROM sync_state WHERE account_id = ?", account)
    if row is not None and int(row["last_write_us"]) >= pull_started_us:
        raise PullRaced(f"accounts/{account} was written while it was pulled")


@dataclass(frozen=True, slots=True)
class MirrorCalendar:
    calendar_id: str  # Almanac's id in the mirror
    remote_id: str  # the upstream's id
    remote_etag: str
    sync_token: str


# -- sync state and leases ---------------------------------------------------


async def enroll_remote_accounts(store: Store) -> None:
    """Give every remote account a sync_state row (new accounts sync at once)."""
    async with store.transaction() as tx:
        await tx.execute(
            "INSERT INTO sync_state (account_id)"
            " SELECT id FROM accounts WHERE connector <> 'CONNECTOR_TYPE_LOCAL'"
            " AND id NOT IN (SELECT account_id FROM sync_state)"
        )


async def due_accounts(store: Store, limit: int) -> list[str]:
    now = now_us()
    rows = await store.fetchall(
        "SELECT account_id FROM sync_state WHERE next_run_us <= ? AND lease_until_us < ?"
        " ORDER BY next_run_us, account_id LIMIT ?",
        now,
        now,
        limit,
    )
    return [str(r["account_id"]) for r in rows]


async def acquire_lease(store: Store, account: str, owner: str, seconds: float) -> bool:
    now = now_us()
    async with store.transaction() as tx:
        taken = await tx.execute(
            "UPDATE sync_state SET lease_owner = ?, lease_until_us = ?, last_attempt_us = ?"
            " WHERE account_id = ? AND (lease_until_us < ? OR lease_owner = ?)",
            owner, now + int(seconds * 1e6), now, account, now, owner,
        )  # fmt: skip
    return taken == 1


async def renew_lease(tx: Transaction, account: str, owner: str, seconds: float) -> None:
    """Extend the lease inside ``tx``; raise LeaseLost (rolling ``tx`` back) if it is gone."""
    now = now_us()
    kept = await tx.execute(
        "UPDATE sync_state SET lease_until_us = ?"
        " WHERE account_id = ? AND lease_owner = ? AND lease_until_us >= ?",
        now + int(seconds * 1e6), account, owner, now,
    )  # fmt: skip
    if kept != 1:
        raise LeaseLost(f"lost the sync lease of accounts/{account}")


async def release_lease(store: Store, account: str, owner: str) -> None:
    async with store.transaction() as tx:
        await tx.execute(
            "UPDATE sync_state SET lease_owner = '', lease_until_us = 0"
            " WHERE account_id = ? AND lease_owner = ?",
            account,
            owner,
        )


async def record_success(store: Store, account: str, owner: str, next_in: float) -> None:
    now = now_us()
    async with store.transaction() as tx:
        await tx.execute(
            "UPDATE sync_state SET last_success_us = ?, failures = 0, last_error = '',"
            " last_error_reason = '', next_run_us = CASE WHEN next_run_us > last_attempt_us"
            " THEN next_run_us ELSE ? END WHERE account_id = ? AND lease_owner = ?",
            now, now + int(next_in * 1e6), account, owner,
        )  # fmt: skip


async def record_failure(
    store: Store, account: str, owner: str, error: ConnectorError, retry_in: float
) -> None:
    async with store.transaction() as tx:
        await tx.execute(
            "UPDATE sync_state SET failures = failures + 1, last_error = ?,"
            " last_error_reason = ?, next_run_us = ? WHERE account_id = ? AND lease_owner = ?",
            error.message or type(error).__name__, error.reason or "",
            now_us() + int(retry_in * 1e6), account, owner,
        )  # fmt: skip


async def failures(store: Store, account: str) -> int:
    row = await store.fetchone("SELECT failures FROM sync_state WHERE account_id = ?", account)
    return int(row["failures"]) if row else 0


async def request_sync(store: Store, account: str) -> None:
    """Make the account due now (a running sync is followed by another)."""
    async with store.transaction() as tx:
        await tx.execute(
            "INSERT INTO sync_state (account_id) VALUES (?) ON CONFLICT (account_id) DO NOTHING",
            account,
        )
        await tx.execute(
            "UPDATE sync_state SET next_run_us = ? WHERE account_id = ?", now_us(), account
        )


@dataclass(frozen=True)
class SyncTotals:
    """The sync state of every remote account of one connector type, summed up."""

    connector: str  # CONNECTOR_TYPE_...
    accounts: int
    oldest_success_us: int | None  # among the accounts that ever synced
    failing: int  # whose last sync failed
    never_synced: int


async def sync_totals(store: Store) -> list[SyncTotals]:
    """Per connector type, for the sync metrics (services.sync.metrics)."""
    rows = await store.fetchall(
        "SELECT a.connector, COUNT(*),"
        " MIN(CASE WHEN s.last_success_us > 0 THEN s.last_success_us END),"
        " SUM(CASE WHEN s.failures > 0 THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN s.last_success_us = 0 THEN 1 ELSE 0 END)"
        " FROM sync_state s JOIN accounts a ON a.id = s.account_id GROUP BY a.connector"
    )
    return [
        SyncTotals(
            connector=str(r[0]),
            accounts=int(r[1]),
            oldest_success_us=None if r[2] is None else int(r[2]),
            failing=int(r[3] or 0),
            never_synced=int(r[4] or 0),
        )
        for r in rows
    ]


async def sync_state(store: Store, account: str) -> acc_pb.SyncState | None:
    row = await store.fetchone("SELECT * FROM sync_state WHERE account_id = ?", account)
    return None if row is None else _state(row)


def _state(row: Row) -> acc_pb.SyncState:
    state = acc_pb.SyncState(
        last_error=row["last_error"],
        last_error_reason=row["last_error_reason"],
        consecutive_failures=int(row["failures"]),
    )
    for field, column in (
        ("last_success_time", "last_success_us"),
        ("last_attempt_time", "last_attempt_us"),
        ("next_sync_time", "next_run_us"),
    ):
        if row[column]:
            getattr(state, field).CopyFrom(timestamp_from_us(int(row[column])))
    return state


# -- what the mirror holds ----------------------------------------------------


async def mirror_calendars(db: Store | Transaction, account: str) -> list[MirrorCalendar]:
    rows = await db.fetchall(
        "SELECT calendar_id, remote_id, remote_etag, sync_token FROM mirror_calendars"
        " WHERE account_id = ? ORDER BY calendar_id",
        account,
    )
    return [MirrorCalendar(*(str(v) for v in r)) for r in rows]


async def find_mirror_calendar(
    db: Store | Transaction, account: str, calendar_id: str
) -> MirrorCalendar | None:
    row = await db.fetchone(
        "SELECT calendar_id, remote_id, remote_etag, sync_token FROM mirror_calendars"
        " WHERE account_id = ? AND calendar_id = ?",
        account,
        calendar_id,
    )
    return None if row is None else MirrorCalendar(*(str(v) for v in row))


async def set_mirror_calendar(tx: Transaction, account: str, calendar: MirrorCalendar) -> None:
    await tx.execute(
        "INSERT INTO mirror_calendars (account_id, calendar_id, remote_id, remote_etag,"
        " sync_token) VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, calendar_id) DO UPDATE"
        " SET remote_id = excluded.remote_id, remote_etag = excluded.remote_etag,"
        " sync_token = excluded.sync_token",
        account, calendar.calendar_id, calendar.remote_id, calendar.remote_etag,
        calendar.sync_token,
    )  # fmt: skip


async def drop_mirror_calendar(tx: Transaction, account: str, calendar_id: str) -> None:
    for table in ("mirror_calendars", "mirror_items"):
        await tx.execute(
            f"DELETE FROM {table} WHERE account_id = ? AND calendar_id = ?", account, calendar_id
        )


async def item_etag(
    db: Store | Transaction, account: str, calendar_id: str, uid: str
) -> tuple[str, int] | None:
    """The upstream etag of a mirrored series and when the mirror last wrote it."""
    return (await item_etags(db, account, calendar_id, [uid])).get(uid)


async def item_etags(
    db: Store | Transaction, account: str, calendar_id: str, uids: list[str]
) -> dict[str, tuple[str, int]]:
    """`item_etag` of many UIDs at once."""
    found: dict[str, tuple[str, int]] = {}
    for start in range(0, len(uids), 500):
        part = uids[start : start + 500]
        rows = await db.fetchall(
            "SELECT uid, remote_etag, update_us FROM mirror_items"
            " WHERE account_id = ? AND calendar_id = ?"
            f" AND uid IN ({', '.join('?' for _ in part)})",
            account, calendar_id, *part,
        )  # fmt: skip
        found.update({str(r["uid"]): (str(r["remote_etag"]), int(r["update_us"])) for r in rows})
    return found


async def set_item(
    tx: Transaction, account: str, calendar_id: str, uid: str, etag: str | None
) -> None:
    """Record ``uid``'s upstream etag; ``None``: the series is gone upstream."""
    if etag is None:
        await tx.execute(
            "DELETE FROM mirror_items WHERE account_id = ? AND calendar_id = ? AND uid = ?",
            account,
            calendar_id,
            uid,
        )
        return
    await tx.execute(
        "INSERT INTO mirror_items (account_id, calendar_id, uid, remote_etag, update_us)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, calendar_id, uid) DO UPDATE"
        " SET remote_etag = excluded.remote_etag, update_us = excluded.update_us",
        account, calendar_id, uid, etag, now_us(),
    )  # fmt: skip


async def mirrored_uids(tx: Transaction, account: str, calendar_id: str) -> set[str]:
    """Every UID the mirror holds for the calendar, live rows and recorded items."""
    rows = await tx.fetchall(
        "SELECT uid FROM mirror_items WHERE account_id = ? AND calendar_id = ?"
        " UNION SELECT ical_uid FROM events WHERE account_id = ? AND calendar_id = ?"
        " AND deleted = 0",
        account, calendar_id, account, calendar_id,
    )  # fmt: skip
    return {str(r[0]) for r in rows}


async def set_sync_token(tx: Transaction, account: str, calendar_id: str, token: str) -> None:
    await tx.execute(
        "UPDATE mirror_calendars SET sync_token = ? WHERE account_id = ? AND calendar_id = ?",
        token,
        account,
        calendar_id,
    )
