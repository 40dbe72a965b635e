"""Appending to the activity log inside the transaction of a change.

Because the append shares the change's transaction, there is never a change
without its activity nor an activity without its change, even when the
process dies mid-write.
"""

from __future__ import annotations

from collections.abc import Sequence

from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import common_pb2
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from connectors.state.activity_log import NOTICE_SCOPE_SQL, notice_tail
from connectors.store import Transaction
from connectors.store.rows import now_us, timestamp_from_us

__all__ = ["ACTIVITY_CHANNEL", "append_activity"]

_SNAPSHOT_FIELD = {
    common_pb2.RESOURCE_TYPE_ACCOUNT: "account_snapshot",
    common_pb2.RESOURCE_TYPE_CALENDAR: "calendar_snapshot",
    common_pb2.RESOURCE_TYPE_SCHEDULE: "schedule_snapshot",
    common_pb2.RESOURCE_TYPE_EVENT: "event_snapshot",
    common_pb2.RESOURCE_TYPE_CONTACT: "contact_snapshot",
    common_pb2.RESOURCE_TYPE_RESOURCE: "resource_snapshot",
}

# Any constant works; it names the lock that orders activity appends.
_ACTIVITY_LOCK = 0x616C6D61
# Readers of the log LISTEN here on PostgreSQL; the notification is sent at
# commit, so a woken reader always finds the new rows.
ACTIVITY_CHANNEL = "almanac_activity"

_COLUMNS = "account_id, calendar_id, resource_type, resource_name, activity_type, create_time, body"
# PostgreSQL: the row, its cursor and its notice in one statement (one round
# trip). `previous` is read under the append lock, in the statement's snapshot
# (so without this row): the newest cursor committed before it.
_INSERT_AND_NOTIFY = (
    "WITH previous AS (SELECT COALESCE(MAX(cursor), 0) AS c FROM activities),"
    f" added AS (INSERT INTO activities ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    " RETURNING cursor)"
    f" SELECT pg_notify('{ACTIVITY_CHANNEL}', {NOTICE_SCOPE_SQL}"
    " || ' ' || previous.c::text || ' ' || added.cursor::text || ' ' || ?::text)"
    " FROM previous, added"
)


async def append_activity(
    tx: Transaction,
    dialect: str,
    *,
    account: str,
    activity_type: act_pb.ActivityType.ValueType,
    resource_type: common_pb2.ResourceType.ValueType,
    resource: str,
    calendar: str,
    actor: str,
    snapshot: Message,
    changed_fields: Sequence[str] = (),
) -> None:
    """Record one change. ``account`` is the bare account id."""
    if dialect == "postgresql":
        # A sequence hands out numbers in call order, not commit order, so a
        # reader could see cursor 11 before 10 commits and skip 10 forever.
        # Holding this lock to commit makes cursor order commit order.
        await tx.execute("SELECT pg_advisory_xact_lock(?)", _ACTIVITY_LOCK)
    created = now_us()
    activity = act_pb.Activity(
        account=f"accounts/{account}",
        type=activity_type,
        resource_type=resource_type,
        resource=resource,
        calendar=calendar,
        actor=actor,
        create_time=timestamp_from_us(created),
    )
    if changed_fields:
        activity.changed_fields.CopyFrom(FieldMask(paths=sorted(changed_fields)))
    getattr(activity, _SNAPSHOT_FIELD[resource_type]).CopyFrom(snapshot)
    calendar_id = calendar.rsplit("/", 1)[-1] if calendar else ""
    type_name = common_pb2.ResourceType.Name(resource_type)
    body = activity.SerializeToString(deterministic=True)
    row = (account, calendar_id, type_name, resource, int(activity_type), created, body)
    if dialect == "postgresql":
        tail = notice_tail(account, calendar_id, type_name, body)
        await tx.execute(_INSERT_AND_NOTIFY, *row, tail)
        return
    # Deferred: nothing reads the row back, so on SQLite it travels with the
    # next statement or the COMMIT instead of costing a trip of its own.
    await tx.defer(f"INSERT INTO activities ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", *row)
