"""Write-through: a change to a remote account's mirror goes upstream first.

The local connector makes the change in its transaction (rows, instances,
activity) and, before committing, hands it here: the touched calendar or the
touched event series (by UID) go upstream with the mirror's last known
upstream etag as the precondition, and the upstream's new etag is recorded
in the same transaction. If the upstream refuses or fails, the exception
rolls the transaction back: the mirror and the activity log stay untouched
and the caller gets the mapped error (ABORTED for a lost precondition,
UNAVAILABLE or RESOURCE_EXHAUSTED with a retry delay).

The cost of doing it inside the transaction: on SQLite the store's single
writer waits for the upstream round trip (bounded by ``upstream_timeout``);
PostgreSQL only holds the rows involved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import event_service_pb2 as ev_pb

from connectors.base import Capability
from connectors.errors import FailedPrecondition, Unavailable
from connectors.remote import RemoteBackend, RemoteItem
from connectors.store import Transaction

from . import ledger

__all__ = ["BackendFor", "WriteThrough", "remote_calendar"]

T = TypeVar("T")
# The remote backend serving an account (built from its stored settings).
BackendFor = Callable[[str], Awaitable[RemoteBackend]]


class WriteThrough:
    """The hook the local connector calls inside a remote account's writes."""

    def __init__(self, backend_for: BackendFor, timeout: float) -> None:
        self._backend_for = backend_for
        self._timeout = timeout

    async def _call(self, op: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(op, self._timeout)
        except TimeoutError as exc:
            raise Unavailable(
                f"the upstream did not answer within {self._timeout:g}s",
                reason="UPSTREAM_TIMEOUT",
            ) from exc

    async def calendar_created(
        self, tx: Transaction, account: str, calendar_id: str, calendar: cal_pb.Calendar
    ) -> None:
        backend = await self._backend_for(account)
        remote = await self._call(backend.create_calendar(calendar))
        await ledger.note_write(tx, account)
        await ledger.set_mirror_calendar(
            tx, account, ledger.MirrorCalendar(calendar_id, remote.remote_id, remote.etag, "")
        )

    async def calendar_updated(
        self, tx: Transaction, account: str, calendar_id: str, calendar: cal_pb.Calendar
    ) -> None:
        backend = await self._backend_for(account)
        mapped = await remote_calendar(tx, backend, account, calendar_id)
        remote = await self._call(
            backend.update_calendar(mapped.remote_id, calendar, mapped.remote_etag)
        )
        await ledger.note_write(tx, account)
        await ledger.set_mirror_calendar(
            tx,
            account,
            ledger.MirrorCalendar(calendar_id, remote.remote_id, remote.etag, mapped.sync_token),
        )

    async def calendar_deleted(self, tx: Transaction, account: str, calendar_id: str) -> None:
        backend = await self._backend_for(account)
        mapped = await remote_calendar(tx, backend, account, calendar_id)
        await self._call(backend.delete_calendar(mapped.remote_id, mapped.remote_etag))
        await ledger.note_write(tx, account)
        await ledger.drop_mirror_calendar(tx, account, calendar_id)

    async def series_changed(
        self, tx: Transaction, account: str, calendar_id: str, uids: set[str]
    ) -> None:
        """Send each touched UID's current state upstream (or delete it there)."""
        if not uids:
            return
        backend = await self._backend_for(account)
        mapped = await remote_calendar(tx, backend, account, calendar_id)
        for uid in sorted(uids):
            rows = await tx.fetchall(
                "SELECT body FROM events WHERE account_id = ? AND calendar_id = ?"
                " AND ical_uid = ? AND deleted = 0 ORDER BY kind, start_us",
                account,
                calendar_id,
                uid,
            )
            known = await ledger.item_etag(tx, account, calendar_id, uid)
            if not rows:
                if known is not None:
                    await self._call(backend.delete_item(mapped.remote_id, uid, known[0]))
                    await ledger.set_item(tx, account, calendar_id, uid, None)
                continue
            events = [ev_pb.Event.FromString(bytes(r["body"])) for r in rows]
            item = RemoteItem(uid, known[0] if known else "", events)
            etag = await self._call(
                backend.put_item(mapped.remote_id, item, known[0] if known else None)
            )
            await ledger.set_item(tx, account, calendar_id, uid, etag)
        # After the upstream took the writes: a pull begun before this may
        # hold the state from before them (connectors.sync.ledger.check_fresh).
        await ledger.note_write(tx, account)


async def remote_calendar(
    tx: Transaction, backend: RemoteBackend, account: str, calendar_id: str
) -> ledger.MirrorCalendar:
    """The upstream calendar behind a mirrored one.

    ``primary`` exists before the first sync; it maps to the upstream's
    default calendar, found on demand.
    """
    mapped = await ledger.find_mirror_calendar(tx, account, calendar_id)
    if mapped is not None:
        return mapped
    if calendar_id == "primary":
        calendars = await backend.list_calendars()
        default = next((c for c in calendars if c.default), calendars[0] if calendars else None)
        if default is not None:
            mapped = ledger.MirrorCalendar("primary", default.remote_id, default.etag, "")
            await ledger.set_mirror_calendar(tx, account, mapped)
            return mapped
    raise FailedPrecondition(
        f"calendar accounts/{account}/calendars/{calendar_id} has no upstream calendar yet;"
        " retry after the account's next sync",
        reason="CALENDAR_NOT_MIRRORED",
    )


def capabilities_of(backend: type[RemoteBackend]) -> frozenset[Capability]:
    """A mirrored account offers what the mirror adds to its backend."""
    return frozenset(backend.capabilities | {acc_pb.CAPABILITY_CHANGE_SYNC})
