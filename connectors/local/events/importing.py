"""ImportCalendar on the local connector: one transaction, matched by UID.

A VEVENT whose UID a live event of the calendar already has replaces it
(keeping its id); others are created. A RECURRENCE-ID component becomes an
exception of the series with its UID; one whose series is not in the
calendar (an "orphan instance", common in invitations) is stored as a single
event that keeps its original start.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence

from almanac.v1 import event_service_pb2 as ev_pb

from connectors.base import ImportCounts, WriteContext
from connectors.recurrence import find_occurrence, from_proto
from connectors.state.idempotency import claim, fulfil
from connectors.store import Store

from .records import KIND_MASTER
from .writes import EventTx

__all__ = ["import_events"]


async def import_events(
    store: Store,
    account: str,
    calendar: str,
    events: Sequence[ev_pb.Event],
    exceptions: Sequence[ev_pb.Event],
    ctx: WriteContext,
    response: bytes | None = None,
    before_commit: Callable[[EventTx], Awaitable[None]] | None = None,
) -> ImportCounts:
    """Store everything or nothing. ``response`` goes to the idempotency key;
    ``before_commit`` sees the transaction last (the mirror's write-through)."""
    created = updated = stored_exceptions = 0
    async with store.transaction() as tx:
        etx = EventTx(tx, store.dialect, account, calendar, ctx)
        await etx.lock_calendar()
        await claim(tx, ctx)
        masters: dict[str, tuple[str, ev_pb.Event]] = {}
        for event in events:
            owner = await etx.uid_owner(event.ical_uid)
            if owner is None:
                event_id = uuid.uuid4().hex
                event.name = etx.name_of(event_id)
                await etx.insert(event_id, event)
                created += 1
            else:
                event_id = owner["id"]
                previous = ev_pb.Event.FromString(bytes(owner["body"]))
                event.name = previous.name
                event.create_time.CopyFrom(previous.create_time)
                await etx.replace(event_id, event, ["*"], previous_kind=owner["kind"])
                updated += 1
            if event.recurrence.rrules or event.recurrence.rdates:
                masters[event.ical_uid] = (event_id, event)
        for exception in exceptions:
            found = masters.get(exception.ical_uid)
            if found is None:
                owner = await etx.uid_owner(exception.ical_uid)
                if owner is not None and owner["kind"] == KIND_MASTER:
                    found = (owner["id"], ev_pb.Event.FromString(bytes(owner["body"])))
            if found is None:
                await _orphan(etx, exception)
                created += 1
                continue
            await _exception(etx, found[0], found[1], exception)
            stored_exceptions += 1
        if before_commit is not None:
            await before_commit(etx)
        await fulfil(tx, ctx, response or b"")
    return ImportCounts(created, updated, stored_exceptions)


async def _orphan(etx: EventTx, exception: ev_pb.Event) -> None:
    event_id = uuid.uuid4().hex
    exception.name = etx.name_of(event_id)
    exception.recurrence_type = ev_pb.RECURRENCE_TYPE_SINGLE
    await etx.insert(event_id, exception)


async def _exception(
    etx: EventTx, master_id: str, master: ev_pb.Event, exception: ev_pb.Event
) -> None:
    original = from_proto(exception.original_start)
    occurrence = find_occurrence(master.start, master.end, master.recurrence, original)
    if occurrence is None:
        # Not an instance of the series as stored: keep it as its own event
        # rather than lose it (RFC 5545 lets RECURRENCE-ID name an RDATE we
        # may have normalized differently).
        await _orphan(etx, exception)
        return
    event_id = f"{master_id}_{occurrence.instance_id_suffix}"
    exception.name = etx.name_of(event_id)
    exception.recurring_master = master.name
    exception.recurrence_type = ev_pb.RECURRENCE_TYPE_INSTANCE
    exception.instance_index = occurrence.index
    existing = await etx.row(event_id, deleted=True)
    if existing is None:
        await etx.insert(event_id, exception, master_id, occurrence.instance_id_suffix)
    else:
        previous = ev_pb.Event.FromString(bytes(existing["body"]))
        exception.create_time.CopyFrom(previous.create_time)
        await etx.replace(event_id, exception, ["*"], previous_kind=existing["kind"])
    if occurrence.excluded or exception.status == ev_pb.EVENT_STATUS_CANCELLED:
        await etx.tombstone(event_id, exception, existing["kind"] if existing else 3)
        if not occurrence.excluded:
            # Cancelled as RFC 5545 says it: an EXDATE, so an export shows it gone.
            await etx.add_exdate(master_id, exception.original_start)
