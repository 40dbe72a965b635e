"""Writing events: rows, materialized instances and the activity log, in one
transaction per request.

A recurring series is one master row; a modified or cancelled instance is
an exception row keyed by the series and the instance's original start; a
deleted event stays as a tombstone (``deleted`` = 1) so incremental sync and
``show_deleted`` can report it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb

from connectors.base import WriteContext
from connectors.errors import AlreadyExists, EtagMismatch, NotFound
from connectors.state.activity import append_activity
from connectors.store import IntegrityError, Row, Transaction
from connectors.store.rows import compute_etag, now_us, timestamp_from_us

from .records import (
    KIND_EXCEPTION,
    KIND_MASTER,
    KIND_SINGLE,
    Span,
    event_span,
    materialize,
)

__all__ = [
    "BUSY",
    "BUSY_FREE",
    "BUSY_TENTATIVE",
    "EventMutation",
    "EventTx",
    "busy_state",
    "check_etag",
    "declined_by",
]

# A read-modify-write step: the current event in, the new one and the
# field paths that changed out. It may raise InvalidArgument.
EventMutation = Callable[[ev_pb.Event], tuple[ev_pb.Event, Sequence[str]]]


class BookingHook(Protocol):
    """Answers for the resources an event invites (``connectors.local.booking``)."""

    async def written(
        self, etx: EventTx, event_id: str, event: ev_pb.Event, kind: int, series_id: str,
        previous: ev_pb.Event | None,
    ) -> None: ...  # fmt: skip

    async def removed(self, etx: EventTx, event_id: str, event: ev_pb.Event) -> None: ...


_COLUMNS = (
    "id, kind, series_id, instance_key, ical_uid, start_us, end_us, floating, busy, declined,"
    " deleted, horizon_us, body, create_time, update_time"
)


@dataclass
class EventTx:
    """One write transaction on one calendar's events."""

    tx: Transaction
    dialect: str
    account: str
    calendar: str
    ctx: WriteContext
    # The UIDs whose events changed: one upstream object each, for the mirror.
    touched: set[str] = field(default_factory=set)
    # Books the resources an event invites; None on a resource's own copies.
    bookings: BookingHook | None = None

    @property
    def calendar_name(self) -> str:
        return f"accounts/{self.account}/calendars/{self.calendar}"

    def name_of(self, event_id: str) -> str:
        return f"{self.calendar_name}/events/{event_id}"

    async def lock_calendar(self) -> None:
        """Fail unless the calendar exists; hold it against deletion until commit."""
        lock = " FOR SHARE" if self.dialect == "postgresql" else ""
        row = await self.tx.fetchone(
            f"SELECT id FROM calendars WHERE account_id = ? AND id = ?{lock}",
            self.account,
            self.calendar,
        )
        if row is None:
            raise NotFound(f"calendar {self.calendar_name} not found")

    async def row(self, event_id: str, *, deleted: bool = False) -> Row | None:
        return await self.tx.fetchone(
            f"SELECT {_COLUMNS} FROM events"
            " WHERE account_id = ? AND calendar_id = ? AND id = ?"
            + ("" if deleted else " AND deleted = 0"),
            self.account,
            self.calendar,
            event_id,
        )

    async def check_create(self, ical_uid: str) -> None:
        """The calendar exists (and stays, until commit) and no live event has the UID."""
        if self.dialect == "postgresql":
            await self.lock_calendar()
            taken = await self.uid_owner(ical_uid) is not None
        else:
            # One statement, so one trip to the writer: SQLite's single writer
            # already keeps the calendar from being deleted meanwhile.
            row = await self.tx.fetchone(
                "SELECT (SELECT 1 FROM calendars WHERE account_id = ? AND id = ?) AS calendar,"
                " (SELECT 1 FROM events WHERE account_id = ? AND calendar_id = ?"
                " AND ical_uid = ? AND kind IN (1, 2) AND deleted = 0 LIMIT 1) AS taken",
                self.account, self.calendar, self.account, self.calendar, ical_uid,
            )  # fmt: skip
            if row is None or row["calendar"] is None:
                raise NotFound(f"calendar {self.calendar_name} not found")
            taken = row["taken"] is not None
        if taken:
            raise AlreadyExists(
                f"an event with ical_uid {ical_uid!r} already exists in this calendar",
                reason="ICAL_UID_EXISTS",
            )

    async def uid_owner(self, ical_uid: str) -> Row | None:
        """The live single event or master with this UID, if any."""
        return await self.tx.fetchone(
            f"SELECT {_COLUMNS} FROM events WHERE account_id = ? AND calendar_id = ?"
            " AND ical_uid = ? AND kind IN (1, 2) AND deleted = 0",
            self.account,
            self.calendar,
            ical_uid,
        )

    # -- rows -------------------------------------------------------------

    def _seal(self, event: ev_pb.Event, now: int, *, created: bool) -> bytes:
        if created:
            event.create_time.CopyFrom(timestamp_from_us(now))
        event.update_time.CopyFrom(timestamp_from_us(now))
        event.etag = compute_etag(event)
        return event.SerializeToString(deterministic=True)

    async def insert(
        self,
        event_id: str,
        event: ev_pb.Event,
        series_id: str = "",
        key: str = "",
        *,
        tombstone: bool = False,
        defer: bool = False,
    ) -> None:
        """Insert a new single event, master or exception (``name`` already set).

        With ``tombstone`` the row is born deleted: a cancelled instance that
        was never modified, logged once as DELETED. With ``defer`` a single
        event's row travels with the COMMIT (one trip to SQLite's writer
        instead of two); a duplicate id then fails the commit with
        IntegrityError, which the caller maps.
        """
        now = now_us()
        self.touched.add(event.ical_uid)
        if tombstone:
            event.delete_time.CopyFrom(timestamp_from_us(now))
        kind = KIND_EXCEPTION if series_id else KIND_MASTER if _recurs(event) else KIND_SINGLE
        if kind != KIND_EXCEPTION:
            event.recurrence_type = (
                ev_pb.RECURRENCE_TYPE_MASTER
                if kind == KIND_MASTER
                else ev_pb.RECURRENCE_TYPE_SINGLE
            )
        if self.bookings is not None and tombstone:
            await self.bookings.removed(self, event_id, event)
        elif self.bookings is not None and event.attendees:
            await self.bookings.written(self, event_id, event, kind, series_id, None)
        body = self._seal(event, now, created=True)
        span, horizon, instances = self._layout(event, kind, now)
        write = self.tx.defer if defer and kind == KIND_SINGLE else self.tx.execute
        try:
            await write(
                f"INSERT INTO events (account_id, calendar_id, {_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self.account, self.calendar, event_id, kind, series_id, key, event.ical_uid,
                span.start_us, span.end_us, int(span.floating), busy_state(event),
                declined_by(event), int(tombstone), horizon, body, now, now,
            )  # fmt: skip
        except IntegrityError as exc:
            raise AlreadyExists(f"event {event.name} already exists") from exc
        if kind == KIND_MASTER:
            await self._write_instances(event_id, event, span.floating, instances)
        if kind == KIND_EXCEPTION:
            await self._mark_overridden(series_id, key)
        await self.log(
            act_pb.ACTIVITY_TYPE_DELETED if tombstone else act_pb.ACTIVITY_TYPE_ADDED, event
        )

    async def replace(
        self, event_id: str, event: ev_pb.Event, changed: Sequence[str], *, previous_kind: int
    ) -> None:
        """Store a new version of an existing row (which may change kind)."""
        now = now_us()
        self.touched.add(event.ical_uid)
        kind = previous_kind
        if previous_kind != KIND_EXCEPTION:
            kind = KIND_MASTER if _recurs(event) else KIND_SINGLE
            event.recurrence_type = (
                ev_pb.RECURRENCE_TYPE_MASTER
                if kind == KIND_MASTER
                else ev_pb.RECURRENCE_TYPE_SINGLE
            )
        if self.bookings is not None:
            await self._book(event_id, event, kind)
        body = self._seal(event, now, created=False)
        span, horizon, instances = self._layout(event, kind, now)
        await self.tx.execute(
            "UPDATE events SET kind = ?, ical_uid = ?, start_us = ?, end_us = ?, floating = ?,"
            " busy = ?, declined = ?, horizon_us = ?, body = ?, update_time = ?, deleted = 0"
            " WHERE account_id = ? AND calendar_id = ? AND id = ?",
            kind, event.ical_uid, span.start_us, span.end_us, int(span.floating),
            busy_state(event), declined_by(event), horizon, body, now, self.account,
            self.calendar, event_id,
        )  # fmt: skip
        if previous_kind == KIND_MASTER or kind == KIND_MASTER:
            await self._drop_instances(event_id)
        if kind == KIND_MASTER:
            await self._write_instances(event_id, event, span.floating, instances)
            await self._reapply_overrides(event_id)
        await self.log(act_pb.ACTIVITY_TYPE_UPDATED, event, changed)

    async def _book(self, event_id: str, event: ev_pb.Event, kind: int) -> None:
        """Before a replace: the previous attendees say which bookings to release."""
        previous_row = await self.row(event_id, deleted=True)
        previous = ev_pb.Event.FromString(bytes(previous_row["body"])) if previous_row else None
        if not event.attendees and not (previous and any(a.resource for a in previous.attendees)):
            return
        series_id = event.recurring_master.rsplit("/", 1)[1] if kind == KIND_EXCEPTION else ""
        assert self.bookings is not None
        await self.bookings.written(self, event_id, event, kind, series_id, previous)

    async def tombstone(self, event_id: str, event: ev_pb.Event, kind: int) -> None:
        """Mark a row deleted, keeping its last state for sync clients."""
        if self.bookings is not None:
            await self.bookings.removed(self, event_id, event)
        now = now_us()
        self.touched.add(event.ical_uid)
        event.delete_time.CopyFrom(timestamp_from_us(now))
        body = self._seal(event, now, created=False)
        await self.tx.execute(
            "UPDATE events SET deleted = 1, body = ?, update_time = ?"
            " WHERE account_id = ? AND calendar_id = ? AND id = ?",
            body, now, self.account, self.calendar, event_id,
        )  # fmt: skip
        if kind == KIND_MASTER:
            await self._drop_instances(event_id)
        await self.log(act_pb.ACTIVITY_TYPE_DELETED, event)

    async def add_exdate(self, series_id: str, original: common_pb2.EventTime) -> ev_pb.Event:
        """Exclude one occurrence from a live series (the RFC 5545 way to cancel
        it, which every reader of an export honours); returns the master."""
        row = await self.row(series_id)
        if row is None:
            raise NotFound(f"event {self.name_of(series_id)} not found")
        master = ev_pb.Event.FromString(bytes(row["body"]))
        if original in master.recurrence.exdates:
            return master
        master.recurrence.exdates.append(original)
        await self.replace(series_id, master, ["recurrence.exdates"], previous_kind=KIND_MASTER)
        return master

    async def exceptions(self, series_id: str) -> list[Row]:
        return await self.tx.fetchall(
            f"SELECT {_COLUMNS} FROM events WHERE account_id = ? AND calendar_id = ?"
            " AND series_id = ? AND deleted = 0",
            self.account,
            self.calendar,
            series_id,
        )

    def _layout(
        self, event: ev_pb.Event, kind: int, now: int
    ) -> tuple[Span, int, list[tuple[str, int, int, int]]]:
        if kind != KIND_MASTER:
            return event_span(event), 0, []
        found = materialize(event, datetime.fromtimestamp(now / 1e6, UTC))
        rows = [(r.key, r.index, r.start_us, r.end_us) for r in found.rows]
        return found.span, found.horizon_us, rows

    async def _write_instances(
        self,
        series_id: str,
        master: ev_pb.Event,
        floating: bool,
        rows: list[tuple[str, int, int, int]],
    ) -> None:
        busy, declined = busy_state(master), declined_by(master)
        await self.tx.executemany(
            "INSERT INTO event_instances (account_id, calendar_id, series_id, instance_key,"
            " instance_index, start_us, end_us, floating, busy, declined)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (self.account, self.calendar, series_id, *r, int(floating), busy, declined)
                for r in rows
            ],
        )

    async def _drop_instances(self, series_id: str) -> None:
        await self.tx.execute(
            "DELETE FROM event_instances"
            " WHERE account_id = ? AND calendar_id = ? AND series_id = ?",
            self.account,
            self.calendar,
            series_id,
        )

    async def _mark_overridden(self, series_id: str, key: str) -> None:
        await self.tx.execute(
            "UPDATE event_instances SET overridden = 1 WHERE account_id = ? AND calendar_id = ?"
            " AND series_id = ? AND instance_key = ?",
            self.account, self.calendar, series_id, key,
        )  # fmt: skip

    async def _reapply_overrides(self, series_id: str) -> None:
        await self.tx.execute(
            "UPDATE event_instances SET overridden = 1 WHERE account_id = ? AND calendar_id = ?"
            " AND series_id = ? AND instance_key IN (SELECT instance_key FROM events"
            " WHERE account_id = ? AND calendar_id = ? AND series_id = ?)",
            self.account, self.calendar, series_id, self.account, self.calendar, series_id,
        )  # fmt: skip

    async def log(
        self,
        activity_type: act_pb.ActivityType.ValueType,
        event: ev_pb.Event,
        changed: Sequence[str] = (),
    ) -> None:
        await append_activity(
            self.tx,
            self.dialect,
            account=self.account,
            activity_type=activity_type,
            resource_type=common_pb2.RESOURCE_TYPE_EVENT,
            resource=event.name,
            calendar=self.calendar_name,
            actor=self.ctx.actor,
            snapshot=event,
            changed_fields=changed,
        )


BUSY_FREE, BUSY, BUSY_TENTATIVE = 0, 1, 2


def busy_state(event: ev_pb.Event) -> int:
    """How the event blocks time: transparent and cancelled ones do not."""
    if event.transparent or event.status == ev_pb.EVENT_STATUS_CANCELLED:
        return BUSY_FREE
    return BUSY_TENTATIVE if event.status == ev_pb.EVENT_STATUS_TENTATIVE else BUSY


def declined_by(event: ev_pb.Event) -> str:
    """The attendees who declined, for whom the event does not block time."""
    emails = {
        a.email.lower()
        for a in event.attendees
        if a.response_status == ev_pb.RESPONSE_STATUS_DECLINED
    }
    return ",".join(sorted(emails))


def _recurs(event: ev_pb.Event) -> bool:
    return bool(event.recurrence.rrules or event.recurrence.rdates)


def check_etag(event: ev_pb.Event, etag: str) -> None:
    if etag and etag != event.etag:
        raise EtagMismatch(f"event {event.name} was changed since etag {etag} was read")
