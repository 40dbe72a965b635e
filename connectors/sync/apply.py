"""Upstream changes into the mirror: rows and activity in one transaction.

Each pulled item (one UID: a single event, or a series with its exceptions)
replaces what the mirror holds under that UID; an item whose upstream etag
the mirror already has is skipped, so a write-through never comes back as a
second change. Activity names the fields that really changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from almanac.v1 import event_service_pb2 as ev_pb

from connectors.base import WriteContext
from connectors.local.events.records import KIND_EXCEPTION
from connectors.local.events.writes import EventTx
from connectors.recurrence import find_occurrence, from_proto
from connectors.remote import ChangeBatch, RemoteItem
from connectors.store import Row, Transaction

from . import ledger

__all__ = ["UPSTREAM_ACTOR", "apply_batch", "changed_fields", "event_id_for", "remove_uids"]

# The actor of every activity the sync worker records: no token made it.
UPSTREAM_ACTOR = "upstream"
# Fields the mirror sets itself; never a difference between two versions.
_OWN_FIELDS = frozenset(
    {"name", "etag", "create_time", "update_time", "delete_time", "recurrence_type",
     "recurring_master", "instance_index"}
)  # fmt: skip
_ID_OK = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
# UIDs per IN (...) list: well under SQLite's and PostgreSQL's parameter limits.
_IN_BATCH = 500


def event_id_for(uid: str) -> str:
    """A stable Almanac event id for an upstream UID (ids are [a-z0-9-])."""
    if 1 <= len(uid) <= 63 and set(uid) <= _ID_OK and uid[0].isalpha():
        return uid
    return "u" + hashlib.sha256(uid.encode()).hexdigest()[:40]


def changed_fields(before: ev_pb.Event, after: ev_pb.Event) -> list[str]:
    changed = []
    for field in ev_pb.Event.DESCRIPTOR.fields:
        if field.name in _OWN_FIELDS:
            continue
        a, b = getattr(before, field.name), getattr(after, field.name)
        if field.is_repeated:
            if list(a) != list(b):
                changed.append(field.name)
        elif field.message_type is not None:
            has_a = before.HasField(field.name)  # type: ignore[arg-type]
            has_b = after.HasField(field.name)  # type: ignore[arg-type]
            if has_a != has_b or a != b:
                changed.append(field.name)
        elif a != b:
            changed.append(field.name)
    return changed


async def apply_batch(
    tx: Transaction, dialect: str, account: str, calendar_id: str, batch: ChangeBatch,
    pulled_after_us: int,
) -> int:  # fmt: skip
    """Apply one page of changes; returns how many items changed the mirror.

    An item the mirror wrote itself after ``pulled_after_us`` (a write-through
    racing this pull) is newer than what was pulled and is left alone.
    """
    etx = EventTx(tx, dialect, account, calendar_id, WriteContext(UPSTREAM_ACTOR))
    # One read of what the mirror holds for the page, not two per item: a
    # first sync of a large calendar is thousands of items.
    uids = [i.uid for i in batch.items] + list(batch.deleted)
    known = await ledger.item_etags(tx, account, calendar_id, uids)
    held = await _rows_by_uid(etx, uids)
    applied = 0
    for item in batch.items:
        mapped = known.get(item.uid)
        if mapped is not None and (mapped[0] == item.etag or mapped[1] > pulled_after_us):
            continue
        await _store_item(etx, item, held.get(item.uid, []))
        await ledger.set_item(tx, account, calendar_id, item.uid, item.etag)
        applied += 1
    for uid in batch.deleted:
        mapped = known.get(uid)
        if mapped is not None and mapped[1] > pulled_after_us:
            continue
        applied += await remove_uids(etx, [uid])
    return applied


async def remove_uids(etx: EventTx, uids: Iterable[str]) -> int:
    wanted = list(uids)
    held = await _rows_by_uid(etx, wanted)
    removed = 0
    for uid in wanted:
        rows = held.get(uid, [])
        for row in sorted(rows, key=lambda r: -int(r["kind"])):  # exceptions first
            await etx.tombstone(row["id"], ev_pb.Event.FromString(bytes(row["body"])), row["kind"])
        await ledger.set_item(etx.tx, etx.account, etx.calendar, uid, None)
        removed += bool(rows)
    return removed


async def _rows_by_uid(etx: EventTx, uids: list[str]) -> dict[str, list[Row]]:
    found: dict[str, list[Row]] = {}
    for start in range(0, len(uids), _IN_BATCH):
        part = uids[start : start + _IN_BATCH]
        rows = await etx.tx.fetchall(
            "SELECT id, kind, series_id, deleted, ical_uid, body FROM events"
            " WHERE account_id = ? AND calendar_id = ? AND deleted = 0"
            f" AND ical_uid IN ({', '.join('?' for _ in part)})",
            etx.account, etx.calendar, *part,
        )  # fmt: skip
        for row in rows:
            found.setdefault(str(row["ical_uid"]), []).append(row)
    return found


async def _store_item(etx: EventTx, item: RemoteItem, held: list[Row]) -> None:
    rows = {str(r["id"]): r for r in held}
    mains = [e for e in item.events if not e.HasField("original_start")]
    exceptions = [e for e in item.events if e.HasField("original_start")]
    if not mains:  # only exceptions: instances of a series we cannot see
        mains, exceptions = exceptions[:1], exceptions[1:]
        mains[0].ClearField("original_start")
    main = _with_uid(mains[0], item.uid)
    owner = next((r for r in rows.values() if int(r["kind"]) != KIND_EXCEPTION), None)
    main_id = str(owner["id"]) if owner is not None else event_id_for(item.uid)
    await _upsert(etx, main_id, main, owner)
    kept = {main_id}
    if main.recurrence.rrules or main.recurrence.rdates:
        for exception in exceptions:
            kept.add(await _store_exception(etx, main_id, main, _with_uid(exception, item.uid),
                                            rows))  # fmt: skip
    for event_id, row in rows.items():
        if event_id not in kept:
            body = ev_pb.Event.FromString(bytes(row["body"]))
            await etx.tombstone(event_id, body, int(row["kind"]))


async def _store_exception(
    etx: EventTx, master_id: str, master: ev_pb.Event, exception: ev_pb.Event,
    rows: dict[str, Row],
) -> str:  # fmt: skip
    occurrence = find_occurrence(
        master.start, master.end, master.recurrence, from_proto(exception.original_start)
    )
    if occurrence is None:
        return ""  # not an instance of the series as the upstream defines it
    event_id = f"{master_id}_{occurrence.instance_id_suffix}"
    exception.name = etx.name_of(event_id)
    exception.recurring_master = master.name
    exception.recurrence_type = ev_pb.RECURRENCE_TYPE_INSTANCE
    exception.instance_index = occurrence.index
    existing = rows.get(event_id) or await etx.row(event_id, deleted=True)
    if existing is None:
        await etx.insert(event_id, exception, master_id, occurrence.instance_id_suffix)
    else:
        await _upsert(etx, event_id, exception, existing)
    if occurrence.excluded or exception.status == ev_pb.EVENT_STATUS_CANCELLED:
        await etx.tombstone(event_id, exception, KIND_EXCEPTION)
        if not occurrence.excluded:
            await etx.add_exdate(master_id, exception.original_start)
    return event_id


async def _upsert(etx: EventTx, event_id: str, event: ev_pb.Event, row: Row | None) -> None:
    event.name = etx.name_of(event_id)
    if row is None:
        await etx.insert(event_id, event)
        return
    previous = ev_pb.Event.FromString(bytes(row["body"]))
    changed = changed_fields(previous, event)
    if not changed and not row["deleted"]:
        return
    event.create_time.CopyFrom(previous.create_time)
    await etx.replace(event_id, event, changed or ["*"], previous_kind=int(row["kind"]))


def _with_uid(event: ev_pb.Event, uid: str) -> ev_pb.Event:
    copy = ev_pb.Event()
    copy.CopyFrom(event)
    copy.ical_uid = uid
    for field in ("name", "etag", "create_time", "update_time", "delete_time"):
        copy.ClearField(field)
    return copy
