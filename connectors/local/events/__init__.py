"""The ``EventStore`` capability of the local connector.

Instance ids are ``{series id}_{original start}`` (see the EventService
comment). Scopes of a change to a series:

* this instance: stored as an exception row (a cancelled one also adds an
  EXDATE to the master, so every reader of the series sees it gone);
* the whole series: the master changes; exceptions whose original start is
  no longer an occurrence are deleted, the others keep their own values;
* this and following: the series is split (RFC 5545 has no such operation):
  the master ends before the instance and a new series, ``{id}_R{start}``
  with its own UID, starts there. Exceptions from the split point on
  belonged to the old rule and are deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from almanac.v1 import event_service_pb2 as ev_pb

from connectors.base import (
    BusyBlock,
    BusyRead,
    EventMutation,
    EventQuery,
    ImportCounts,
    Page,
    PageRequest,
    WriteContext,
)
from connectors.errors import AlreadyExists, InvalidArgument, NotFound, OutOfRange
from connectors.recurrence import (
    Occurrence,
    find_occurrence,
    from_proto,
    occurrence_at,
    occurrence_key,
    split_instance_id,
    split_series,
    truncate_before,
)
from connectors.state.idempotency import claim, fulfil
from connectors.store import IntegrityError, Row, Store

from ..booking import Bookings
from ..hooks import Upstream
from .busy import busy_blocks, busy_blocks_many
from .busy_cache import BusyCache
from .importing import import_events
from .query import ListingCache, list_events
from .records import KIND_EXCEPTION, KIND_MASTER, project_instance
from .writes import EventTx, check_etag

__all__ = ["LocalEvents"]

_SCOPE = ev_pb.RecurrenceScope


class LocalEvents:
    """The ``EventStore``, ``BusyTime`` and ``IcsImport`` capabilities."""

    def __init__(self, store: Store, upstream: Upstream | None = None) -> None:
        self._store = store
        self._upstream = upstream
        self._listings = ListingCache()
        self._busy = BusyCache()
        self._bookings = Bookings()

    def _etx(self, tx: object, account: str, calendar: str, ctx: WriteContext) -> EventTx:
        etx = EventTx(tx, self._store.dialect, account, calendar, ctx)  # type: ignore[arg-type]
        etx.bookings = self._bookings
        return etx

    async def _through(self, etx: EventTx) -> None:
        """Before commit: send what changed upstream (a remote account's mirror)."""
        if self._upstream is not None:
            await self._upstream.series_changed(etx.tx, etx.account, etx.calendar, etx.touched)

    async def busy_blocks(
        self, account: str, calendar: str, window_start: datetime, window_end: datetime,
        zone: tzinfo, who: str = "", *, with_ids: bool = False,
    ) -> list[BusyBlock]:  # fmt: skip
        return await busy_blocks(
            self._store, account, calendar, window_start, window_end, zone, who,
            with_ids=with_ids,
        )  # fmt: skip

    async def busy_blocks_many(
        self, account: str, reads: Sequence[BusyRead], window_start: datetime,
        window_end: datetime, *, with_ids: bool = False,
    ) -> list[list[BusyBlock]]:  # fmt: skip
        return await busy_blocks_many(
            self._store, account, reads, window_start, window_end, with_ids=with_ids
        )

    async def busy_spans_many(
        self, account: str, reads: Sequence[BusyRead], window_start: datetime,
        window_end: datetime,
    ) -> list[list[tuple[int, int]]]:  # fmt: skip
        return await self._busy.spans_many(self._store, account, reads, window_start, window_end)

    async def import_events(
        self, account: str, calendar: str, events: Sequence[ev_pb.Event],
        exceptions: Sequence[ev_pb.Event], ctx: WriteContext, response: bytes | None = None,
    ) -> ImportCounts:  # fmt: skip
        return await import_events(
            self._store, account, calendar, events, exceptions, ctx, response, self._through
        )

    # -- reads ------------------------------------------------------------

    async def list_events(
        self, account: str, calendar: str, query: EventQuery, page: PageRequest
    ) -> Page[ev_pb.Event]:
        return await list_events(self._store, account, calendar, query, page, self._listings)

    async def all_events(self, account: str, calendar: str) -> list[ev_pb.Event]:
        """Every live single event, master and exception (for export)."""
        rows = await self._store.fetchall(
            "SELECT body FROM events WHERE account_id = ? AND calendar_id = ? AND deleted = 0"
            " ORDER BY kind, start_us, id",
            account,
            calendar,
        )
        return [ev_pb.Event.FromString(bytes(r["body"])) for r in rows]

    async def get_event(
        self, account: str, calendar: str, event_id: str, zone: tzinfo, instance_index: int = 0
    ) -> ev_pb.Event:
        name = f"accounts/{account}/calendars/{calendar}/events/{event_id}"
        row = await self._store.fetchone(
            "SELECT kind, body FROM events WHERE account_id = ? AND calendar_id = ? AND id = ?"
            " AND deleted = 0",
            account,
            calendar,
            event_id,
        )
        if row is not None:
            event = ev_pb.Event.FromString(bytes(row["body"]))
            if not instance_index:
                return event
            if row["kind"] != KIND_MASTER:
                raise InvalidArgument(
                    "instance_index needs the name of a recurring series",
                    violations=[("instance_index", f"{name} is not a series")],
                )
            return await self._instance_at(account, calendar, event, instance_index, zone)
        return await self._virtual_instance(account, calendar, event_id, zone, name)

    async def _instance_at(
        self, account: str, calendar: str, master: ev_pb.Event, index: int, zone: tzinfo
    ) -> ev_pb.Event:
        try:
            occurrence = occurrence_at(
                master.start, master.end, master.recurrence, index, floating_zone=zone
            )
        except ValueError as exc:
            raise InvalidArgument(str(exc), violations=[("instance_index", str(exc))]) from exc
        if occurrence is None:
            raise OutOfRange(f"{master.name} has fewer than {index} instances")
        if occurrence.excluded:
            raise NotFound(f"instance {index} of {master.name} was cancelled")
        master_id = master.name.rsplit("/", 1)[1]
        return await self._virtual_instance(
            account, calendar, f"{master_id}_{occurrence.instance_id_suffix}", zone, master.name
        )

    async def _virtual_instance(
        self, account: str, calendar: str, event_id: str, zone: tzinfo, name: str
    ) -> ev_pb.Event:
        exception = await self._store.fetchone(
            "SELECT body, deleted FROM events WHERE account_id = ? AND calendar_id = ? AND id = ?",
            account,
            calendar,
            event_id,
        )
        if exception is not None:
            if exception["deleted"]:
                raise NotFound(f"event {name} was deleted")
            return ev_pb.Event.FromString(bytes(exception["body"]))
        master, occurrence = await self._occurrence(self._store, account, calendar, event_id, zone)
        return project_instance(master, occurrence)

    async def _occurrence(
        self, db: object, account: str, calendar: str, event_id: str, zone: tzinfo
    ) -> tuple[ev_pb.Event, Occurrence]:
        name = f"accounts/{account}/calendars/{calendar}/events/{event_id}"
        parsed = split_instance_id(event_id)
        if parsed is None:
            raise NotFound(f"event {name} not found")
        master_id, original = parsed
        row = await db.fetchone(  # type: ignore[attr-defined]
            "SELECT kind, body FROM events WHERE account_id = ? AND calendar_id = ? AND id = ?"
            " AND deleted = 0",
            account,
            calendar,
            master_id,
        )
        if row is None or row["kind"] != KIND_MASTER:
            raise NotFound(f"event {name} not found")
        master = ev_pb.Event.FromString(bytes(row["body"]))
        occurrence = find_occurrence(
            master.start, master.end, master.recurrence, original, floating_zone=zone
        )
        if occurrence is None or occurrence.excluded:
            raise NotFound(f"event {name} not found: not an instance of {master.name}")
        return master, occurrence

    # -- create -----------------------------------------------------------

    async def create_event(
        self, account: str, calendar: str, event: ev_pb.Event, event_id: str, ctx: WriteContext
    ) -> ev_pb.Event:
        try:
            async with self._store.transaction() as tx:
                etx = self._etx(tx, account, calendar, ctx)
                await etx.check_create(event.ical_uid)
                await claim(tx, ctx)
                event.name = etx.name_of(event_id)
                await etx.insert(event_id, event, defer=self._upstream is None)
                await self._through(etx)
                await fulfil(tx, ctx, event.SerializeToString(deterministic=True))
        except IntegrityError as exc:  # the deferred insert met an existing id at commit
            raise AlreadyExists(f"event {etx.name_of(event_id)} already exists") from exc
        return event

    # -- update -----------------------------------------------------------

    async def update_event(
        self,
        account: str,
        calendar: str,
        event_id: str,
        apply: EventMutation,
        etag: str,
        scope: int,
        ctx: WriteContext,
        zone: tzinfo,
    ) -> ev_pb.Event:
        async with self._store.transaction() as tx:
            etx = self._etx(tx, account, calendar, ctx)
            updated = await self._update(etx, event_id, apply, etag, scope, zone)
            await self._through(etx)
            return updated

    async def _update(
        self, etx: EventTx, event_id: str, apply: EventMutation, etag: str, scope: int,
        zone: tzinfo,
    ) -> ev_pb.Event:  # fmt: skip
        tx, account, calendar = etx.tx, etx.account, etx.calendar
        row = await etx.row(event_id)
        if row is not None and row["kind"] != KIND_EXCEPTION:
            if row["kind"] == KIND_MASTER and scope == _SCOPE.RECURRENCE_SCOPE_THIS_INSTANCE:
                raise _instance_scope_needs_instance()
            return await self._replace(etx, row, apply, etag)
        if row is not None and scope in (
            _SCOPE.RECURRENCE_SCOPE_UNSPECIFIED,
            _SCOPE.RECURRENCE_SCOPE_THIS_INSTANCE,
        ):
            return await self._replace(etx, row, apply, etag)
        master, occurrence = await self._occurrence(tx, account, calendar, event_id, zone)
        master_id = master.name.rsplit("/", 1)[1]
        master_row = await etx.row(master_id)
        assert master_row is not None
        if scope == _SCOPE.RECURRENCE_SCOPE_ALL or (
            scope == _SCOPE.RECURRENCE_SCOPE_THIS_AND_FOLLOWING and occurrence.index == 1
        ):
            return await self._replace(etx, master_row, _series_only(apply), etag)
        if scope == _SCOPE.RECURRENCE_SCOPE_THIS_AND_FOLLOWING:
            return await self._split(etx, master, occurrence, apply, etag)
        # This instance, never modified before: it becomes an exception.
        check_etag(master, etag)
        base = project_instance(master, occurrence)
        updated, _ = apply(base)
        _check_instance_change(base, updated)
        if updated.status == ev_pb.EVENT_STATUS_CANCELLED:
            await self._cancel_instance(etx, master, updated, exists=False)
            return updated
        await etx.insert(event_id, updated, master_id, occurrence.instance_id_suffix)
        return updated

    async def _replace(
        self, etx: EventTx, row: Row, apply: EventMutation, etag: str
    ) -> ev_pb.Event:
        current = ev_pb.Event.FromString(bytes(row["body"]))
        check_etag(current, etag)
        updated, changed = apply(current)
        if not changed:
            return current
        if row["kind"] == KIND_EXCEPTION:
            _check_instance_change(current, updated)
            if updated.status == ev_pb.EVENT_STATUS_CANCELLED:
                master_row = await etx.row(row["series_id"])
                if master_row is not None:
                    master = ev_pb.Event.FromString(bytes(master_row["body"]))
                    await self._cancel_instance(etx, master, updated, exists=True)
                    return updated
        await etx.replace(row["id"], updated, changed, previous_kind=row["kind"])
        if row["kind"] == KIND_MASTER:
            await self._drop_stale_exceptions(etx, updated)
        return updated

    async def _drop_stale_exceptions(self, etx: EventTx, master: ev_pb.Event) -> None:
        """Delete exceptions whose original start the series no longer has."""
        master_id = master.name.rsplit("/", 1)[1]
        for row in await etx.exceptions(master_id):
            exception = ev_pb.Event.FromString(bytes(row["body"]))
            if not master.recurrence.rrules and not master.recurrence.rdates:
                keep = False
            else:
                found = find_occurrence(
                    master.start,
                    master.end,
                    master.recurrence,
                    from_proto(exception.original_start),
                )
                keep = found is not None and not found.excluded
            if not keep:
                await etx.tombstone(row["id"], exception, KIND_EXCEPTION)

    async def _split(
        self,
        etx: EventTx,
        master: ev_pb.Event,
        occurrence: Occurrence,
        apply: EventMutation,
        etag: str,
    ) -> ev_pb.Event:
        check_etag(master, etag)
        original = from_proto(project_instance(master, occurrence).original_start)
        cut = split_series(master.start, master.end, master.recurrence, original)
        if cut.before is None:  # nothing before the cut: the caller handles the first instance
            raise RuntimeError("split at the first instance")
        suffix = occurrence.instance_id_suffix
        master_id = master.name.rsplit("/", 1)[1]
        old = ev_pb.Event()
        old.CopyFrom(master)
        old.recurrence.CopyFrom(cut.before)
        await etx.replace(master_id, old, ["recurrence"], previous_kind=KIND_MASTER)
        await self._drop_stale_exceptions(etx, old)
        base = project_instance(master, occurrence)
        base.ClearField("recurring_master")
        base.ClearField("original_start")
        base.ClearField("instance_index")
        base.recurrence.CopyFrom(cut.after)
        base.start.CopyFrom(cut.new_start)
        new_id = f"{master_id}_R{suffix}"
        base.name = etx.name_of(new_id)
        base.ical_uid = f"{master.ical_uid}_R{suffix}"
        updated, _ = apply(base)
        updated.name = base.name
        updated.ical_uid = base.ical_uid
        await etx.insert(new_id, updated)
        return updated

    # -- delete -----------------------------------------------------------

    async def delete_event(
        self,
        account: str,
        calendar: str,
        event_id: str,
        etag: str,
        scope: int,
        ctx: WriteContext,
        zone: tzinfo,
    ) -> None:
        async with self._store.transaction() as tx:
            etx = self._etx(tx, account, calendar, ctx)
            await self._delete(etx, event_id, etag, scope, zone)
            await self._through(etx)

    async def _delete(
        self, etx: EventTx, event_id: str, etag: str, scope: int, zone: tzinfo
    ) -> None:
        tx, account, calendar = etx.tx, etx.account, etx.calendar
        row = await etx.row(event_id)
        if row is not None and row["kind"] != KIND_EXCEPTION:
            if row["kind"] == KIND_MASTER and scope == _SCOPE.RECURRENCE_SCOPE_THIS_INSTANCE:
                raise _instance_scope_needs_instance()
            await self._delete_row(etx, row, etag)
            return
        master, occurrence = await self._occurrence(tx, account, calendar, event_id, zone)
        master_id = master.name.rsplit("/", 1)[1]
        master_row = await etx.row(master_id)
        assert master_row is not None
        current = ev_pb.Event.FromString(bytes(row["body"])) if row is not None else master
        check_etag(current, etag)
        first = occurrence.index == 1
        if scope == _SCOPE.RECURRENCE_SCOPE_ALL or (
            scope == _SCOPE.RECURRENCE_SCOPE_THIS_AND_FOLLOWING and first
        ):
            await self._delete_row(etx, master_row, "")
            return
        instance = project_instance(master, occurrence)
        original = from_proto(instance.original_start)
        updated = ev_pb.Event()
        updated.CopyFrom(master)
        if scope == _SCOPE.RECURRENCE_SCOPE_THIS_AND_FOLLOWING:
            updated.recurrence.CopyFrom(truncate_before(master.start, master.recurrence, original))
            await etx.replace(master_id, updated, ["recurrence"], previous_kind=KIND_MASTER)
            await self._drop_stale_exceptions(etx, updated)
            return
        kept = ev_pb.Event.FromString(bytes(row["body"])) if row is not None else instance
        await self._cancel_instance(etx, master, kept, exists=row is not None)

    async def _cancel_instance(
        self, etx: EventTx, master: ev_pb.Event, instance: ev_pb.Event, *, exists: bool
    ) -> None:
        """Cancel one instance: an EXDATE on the series, a tombstone for the instance.

        The EXDATE makes every reader of the series (export, CalDAV, expansion)
        see the instance gone; the tombstone keeps it visible to show_deleted.
        """
        master_id = master.name.rsplit("/", 1)[1]
        event_id = instance.name.rsplit("/", 1)[1]
        original = from_proto(instance.original_start)
        await etx.add_exdate(master_id, instance.original_start)
        instance.status = ev_pb.EVENT_STATUS_CANCELLED
        if exists:
            await etx.tombstone(event_id, instance, KIND_EXCEPTION)
        else:
            key = occurrence_key(original)
            await etx.insert(event_id, instance, master_id, key, tombstone=True)

    async def _delete_row(self, etx: EventTx, row: Row, etag: str) -> None:
        current = ev_pb.Event.FromString(bytes(row["body"]))
        check_etag(current, etag)
        if row["kind"] == KIND_MASTER:
            for exception in await etx.exceptions(row["id"]):
                body = ev_pb.Event.FromString(bytes(exception["body"]))
                await etx.tombstone(exception["id"], body, KIND_EXCEPTION)
        await etx.tombstone(row["id"], current, row["kind"])


def _series_only(apply: EventMutation) -> EventMutation:
    """Apply an instance's change to its whole series; times must stay put."""

    def on_master(master: ev_pb.Event) -> tuple[ev_pb.Event, list[str]]:
        updated, changed = apply(master)
        moved = {"start", "end"} & {c.split(".", 1)[0] for c in changed}
        if moved:
            raise InvalidArgument(
                "a change to a whole series through one of its instances cannot move it;"
                " update the series by its own name to change its times",
                violations=[("event.start", "not allowed with RECURRENCE_SCOPE_ALL")],
            )
        return updated, list(changed)

    return on_master


def _check_instance_change(before: ev_pb.Event, after: ev_pb.Event) -> None:
    if after.HasField("recurrence") and (after.recurrence.rrules or after.recurrence.rdates):
        raise InvalidArgument(
            "one instance of a series cannot have its own recurrence",
            violations=[("event.recurrence", "not allowed on an instance")],
        )
    del before


def _instance_scope_needs_instance() -> InvalidArgument:
    return InvalidArgument(
        "RECURRENCE_SCOPE_THIS_INSTANCE needs an instance name, not a series name",
        violations=[("scope", "use the instance's name ({series id}_{original start})")],
    )
