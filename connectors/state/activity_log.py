"""Reading the activity log: cursors, filters, retention.

A cursor is the row's position in the log, written as 16 hex digits so it
sorts as text too; clients treat it as opaque. Retention deletes old rows
and remembers the last deleted cursor, so a client resuming from before it
is told to resync instead of silently missing changes.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

from almanac.v1 import activity_service_pb2 as act_pb

from connectors.errors import FailedPrecondition, InvalidArgument
from connectors.store import Store

__all__ = [
    "ActivityFilter",
    "LogRow",
    "check_resumable",
    "decode_cursor",
    "encode_cursor",
    "latest_cursor",
    "notice_scope",
    "notice_tail",
    "parse_notice",
    "prune",
    "pruned_through",
    "read_after",
]

_CURSOR_RE = re.compile(r"^[0-9a-f]{16}$")
_PRUNED_KEY = "activity_pruned_through"
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; a larger row is
# announced without its body and the reader fetches it.
_NOTICE_BODY_MAX = 5000


def encode_cursor(position: int) -> str:
    return f"{position:016x}"


def decode_cursor(cursor: str, field: str = "cursor") -> int:
    if not _CURSOR_RE.match(cursor):
        raise InvalidArgument(
            f"{field} is not a cursor this server issued",
            violations=[(field, "must be a cursor from an activity or heartbeat")],
            reason="INVALID_CURSOR",
        )
    return int(cursor, 16)


@dataclass(slots=True)
class LogRow:
    cursor: int
    account_id: str
    calendar_id: str
    resource_type: str
    body: bytes
    _message: act_pb.StreamActivityResponse | None = None

    def activity(self) -> act_pb.Activity:
        activity = act_pb.Activity.FromString(self.body)
        activity.cursor = encode_cursor(self.cursor)
        activity.name = f"accounts/{self.account_id}/activities/{activity.cursor}"
        return activity

    def message(self) -> act_pb.StreamActivityResponse:
        """The stream message of this row, built once however many streams send it.

        Shared: streams only serialize it, never change it.
        """
        if self._message is None:
            self._message = act_pb.StreamActivityResponse(activity=self.activity())
        return self._message


@dataclass(frozen=True)
class ActivityFilter:
    """Which activities a reader may and wants to see."""

    accounts: frozenset[str] | None  # None: every account
    resource_types: frozenset[str] = frozenset()  # empty: every type
    calendar: tuple[str, str] | None = None  # (account, calendar id)

    def matches(self, row: LogRow) -> bool:
        if self.accounts is not None and row.account_id not in self.accounts:
            return False
        if self.resource_types and row.resource_type not in self.resource_types:
            return False
        return self.calendar is None or (row.account_id, row.calendar_id) == self.calendar

    def where(self) -> tuple[str, list[object]]:
        clauses: list[str] = []
        args: list[object] = []
        if self.calendar is not None:
            clauses.append("account_id = ? AND calendar_id = ?")
            args += list(self.calendar)
        elif self.accounts is not None:
            if not self.accounts:
                clauses.append("1 = 0")
            else:
                clauses.append(f"account_id IN ({', '.join('?' for _ in self.accounts)})")
                args += sorted(self.accounts)
        if self.resource_types:
            clauses.append(f"resource_type IN ({', '.join('?' for _ in self.resource_types)})")
            args += sorted(self.resource_types)
        return "".join(f" AND {c}" for c in clauses), args


# -- notices: a new row, carried by the NOTIFY that announces it (PostgreSQL) --
#
# Payload: "<scope> <previous cursor> <cursor> <tail>". The writer computes the
# previous cursor under the lock that orders appends, so a reader whose newest
# row is that previous cursor knows nothing lies between and may take the row
# from the payload instead of reading the log. Any other reader reads the log.
# A channel spans the database, and deployments in other schemas of it notify
# on it too: the scope (the activities table's OID) tells their notices apart.

NOTICE_SCOPE_SQL = "'activities'::regclass::oid::text"


async def notice_scope(store: Store) -> str:
    """The scope of this store's notices (PostgreSQL only)."""
    row = await store.fetchone(f"SELECT {NOTICE_SCOPE_SQL} AS scope")
    assert row is not None
    return str(row["scope"])


def notice_tail(account_id: str, calendar_id: str, resource_type: str, body: bytes) -> str:
    """The part of a notice the writer knows before the INSERT; "" if the body is too big."""
    if len(body) > _NOTICE_BODY_MAX:
        return ""
    return json.dumps(
        [account_id, calendar_id, resource_type, base64.b64encode(body).decode()],
        separators=(",", ":"),
    )


def parse_notice(payload: str, scope: str) -> tuple[int, LogRow] | None:
    """(previous cursor, the row) from a notice of ``scope``; None for anything else.

    None also for a bare doorbell (no tail), a notice of another scope and
    anything unparseable: the reader then reads the log, never wrong, at worst
    slower.
    """
    parts = payload.split(" ", 3)
    if len(parts) != 4 or parts[0] != scope or not parts[3]:
        return None
    try:
        previous, cursor = int(parts[1]), int(parts[2])
        account_id, calendar_id, resource_type, encoded = json.loads(parts[3])
        body = base64.b64decode(encoded, validate=True)
        row = LogRow(cursor, account_id, calendar_id, resource_type, body)
    except (ValueError, TypeError):  # JSONDecodeError and binascii.Error are ValueErrors
        return None
    return previous, row


async def read_after(
    store: Store, after: int, limit: int, where: ActivityFilter | None = None
) -> list[LogRow]:
    """Up to ``limit`` rows after ``after`` in cursor order (filtered when asked)."""
    clause, args = where.where() if where is not None else ("", [])
    rows = await store.fetchall(
        "SELECT cursor, account_id, calendar_id, resource_type, body FROM activities"
        f" WHERE cursor > ?{clause} ORDER BY cursor LIMIT ?",
        after,
        *args,
        limit,
    )
    return [
        LogRow(r["cursor"], r["account_id"], r["calendar_id"], r["resource_type"], bytes(r["body"]))
        for r in rows
    ]


async def latest_cursor(store: Store) -> int:
    row = await store.fetchone("SELECT MAX(cursor) AS c FROM activities")
    latest = row["c"] if row is not None and row["c"] is not None else 0
    return max(int(latest), await pruned_through(store))


async def pruned_through(store: Store) -> int:
    row = await store.fetchone("SELECT value FROM meta WHERE key = ?", _PRUNED_KEY)
    return int(row["value"]) if row is not None else 0


async def check_resumable(store: Store, position: int, field: str = "cursor") -> None:
    """A cursor is usable if nothing after it was pruned and it is not from the future."""
    floor = await pruned_through(store)
    if position < floor:
        raise FailedPrecondition(
            f"{field} is older than the activity retention; resynchronise, then resume from"
            f" the latest cursor",
            reason="CURSOR_EXPIRED",
            metadata={"oldestCursor": encode_cursor(floor)},
        )
    if position > await latest_cursor(store):
        raise InvalidArgument(
            f"{field} is not a cursor of this deployment",
            violations=[(field, "is past the end of the activity log")],
            reason="UNKNOWN_CURSOR",
        )


async def prune(store: Store, before_us: int) -> int:
    """Delete activities created before ``before_us``; return how many."""
    async with store.transaction() as tx:
        row = await tx.fetchone(
            "SELECT MAX(cursor) AS c FROM activities WHERE create_time < ?", before_us
        )
        through = row["c"] if row is not None else None
        if through is None:
            return 0
        # Cursor order is commit order, so everything up to `through` goes.
        deleted = await tx.execute("DELETE FROM activities WHERE cursor <= ?", through)
        current = await tx.fetchone("SELECT value FROM meta WHERE key = ?", _PRUNED_KEY)
        if current is None:
            await tx.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)", _PRUNED_KEY, str(through)
            )
        elif int(current["value"]) < through:
            await tx.execute("UPDATE meta SET value = ? WHERE key = ?", str(through), _PRUNED_KEY)
        return deleted
