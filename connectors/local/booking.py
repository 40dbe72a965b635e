"""Booking resources by inviting them: the answer, and the resource's calendar.

Before an event row is written, each attendee whose email is a resource of
the account is answered here, in the same transaction (so two bookings of one
free slot cannot both be accepted: the resource rows are locked first, and
SQLite's single writer serializes the rest):

* accepted when the resource is free (its calendar, apart from this booking's
  own copy) and the booking policy allows it; the event is then copied onto
  the resource's calendar under a derived id, which is what blocks the slot;
* declined otherwise, with the reason in the attendee's ``comment``; the copy
  is removed.

Recurring bookings follow Google's rule: within the next 366 days, clashing
occurrences are declined one by one (EXDATEs on the resource's copy; the
comment lists them) unless more than 5, or more than a third, clash: then
the whole series is declined. A moved instance (an exception) is checked on
its own. Moving a booking re-checks it; cancelling or deleting frees it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from almanac.v1 import resource_service_pb2 as rs_pb

from connectors.base import BusyBlock
from connectors.policy import policy_problem
from connectors.recurrence import expand, from_proto, to_proto, to_utc

from .events.busy import busy_blocks
from .events.records import KIND_EXCEPTION, KIND_MASTER
from .events.writes import EventTx
from .resources import resources_by_email

__all__ = ["Bookings", "copy_id"]

HORIZON = timedelta(days=366)
MAX_OCCURRENCES = 1000
MAX_CLASHES = 5  # more than this, or more than a third, declines a whole series
_ACCEPTED = ev_pb.RESPONSE_STATUS_ACCEPTED
_DECLINED = ev_pb.RESPONSE_STATUS_DECLINED


def copy_id(calendar: str, event_id: str) -> str:
    """The id of a booking's copy on the resource's calendar (one per organizer event)."""
    digest = hashlib.sha256(f"{calendar}/{event_id}".encode()).hexdigest()[:32]
    return f"booking-{digest}"


class Bookings:
    """The hook :class:`EventTx` calls around its writes (see module doc)."""

    async def written(
        self, etx: EventTx, event_id: str, event: ev_pb.Event, kind: int, series_id: str,
        previous: ev_pb.Event | None,
    ) -> None:  # fmt: skip
        """Answer for the resource attendees of ``event``; update their calendars."""
        emails = [a.email for a in event.attendees]
        if previous is not None:
            # Resources no longer invited are freed.
            now_invited = {e.lower() for e in emails}
            gone = [a.email for a in previous.attendees
                    if a.resource and a.email.lower() not in now_invited]  # fmt: skip
            await self.removed(etx, event_id, previous, gone)
        for resource in await resources_by_email(etx.tx, etx.dialect, etx.account, emails):
            calendar_id = resource.calendar.rsplit("/", 1)[1]
            if calendar_id == etx.calendar:
                continue  # an event written on the resource's own calendar
            attendee = next(a for a in event.attendees if a.email.lower() == resource.email.lower())
            attendee.resource = True
            target = EventTx(etx.tx, etx.dialect, etx.account, calendar_id, etx.ctx)
            await self._answer(etx, target, resource, attendee, event_id, event, kind, series_id)

    async def removed(
        self, etx: EventTx, event_id: str, event: ev_pb.Event, only: list[str] | None = None
    ) -> None:
        """The event is gone (deleted or cancelled): free its resources (or ``only`` these)."""
        emails = [a.email for a in event.attendees if a.resource] if only is None else only
        for resource in await resources_by_email(etx.tx, etx.dialect, etx.account, emails):
            calendar_id = resource.calendar.rsplit("/", 1)[1]
            target = EventTx(etx.tx, etx.dialect, etx.account, calendar_id, etx.ctx)
            await _drop_copy(target, _copy_of(etx.calendar, event_id, event))

    async def _answer(
        self, etx: EventTx, target: EventTx, resource: rs_pb.Resource, attendee: ev_pb.Attendee,
        event_id: str, event: ev_pb.Event, kind: int, series_id: str,
    ) -> None:  # fmt: skip
        own = _copy_of(etx.calendar, event_id, event)
        series_copy = copy_id(etx.calendar, series_id) if series_id else ""
        if event.status == ev_pb.EVENT_STATUS_CANCELLED:
            await _drop_copy(target, own)
            return
        zone = await _zone(target)
        now = datetime.now(UTC)
        if kind == KIND_MASTER:
            reason, exdates = await _check_series(target, resource, event, own, zone, now)
        else:
            reason, exdates = await _check_single(target, resource, event, own, series_copy, zone)
        if kind == KIND_EXCEPTION and await target.row(series_copy) is None:
            reason = reason or "declined: the series was not booked"
        attendee.response_status = _DECLINED if reason.startswith("declined") else _ACCEPTED
        attendee.comment = reason
        if attendee.response_status == _DECLINED:
            await _drop_copy(target, own)
            return
        copy = ev_pb.Event()
        copy.CopyFrom(event)
        copy.name = target.name_of(own)
        copy.transparent = False  # a booked resource is busy, whatever the organizer shows
        copy.recurrence.exdates.extend(exdates)
        if not copy.recurrence.ListFields():
            copy.ClearField("recurrence")
        if kind == KIND_EXCEPTION:
            copy.recurring_master = target.name_of(series_copy)
        await _put_copy(target, own, copy, series_copy)


def _copy_of(calendar: str, event_id: str, event: ev_pb.Event) -> str:
    """Exceptions (``{series}_{key}``) map to the same key under the series' copy."""
    if event.recurring_master:
        series_id = event.recurring_master.rsplit("/", 1)[1]
        return f"{copy_id(calendar, series_id)}{event_id[len(series_id) :]}"
    return copy_id(calendar, event_id)


async def _zone(target: EventTx) -> ZoneInfo:
    row = await target.tx.fetchone(
        "SELECT body FROM calendars WHERE account_id = ? AND id = ?",
        target.account,
        target.calendar,
    )
    zone = cal_pb.Calendar.FromString(bytes(row["body"])).time_zone if row else ""
    return ZoneInfo(zone or "UTC")


def _mine(block_id: str, own: str, series_copy: str) -> bool:
    """Blocks of this booking's own copy never clash with it."""
    return block_id == own or block_id.startswith(own + "_") or (
        bool(series_copy) and block_id.startswith(series_copy)
    )  # fmt: skip


async def _check_single(
    target: EventTx, resource: rs_pb.Resource, event: ev_pb.Event, own: str, series_copy: str,
    zone: ZoneInfo,
) -> tuple[str, list[common_pb2.EventTime]]:  # fmt: skip
    start = to_utc(from_proto(event.start), zone)
    end = to_utc(from_proto(event.end), zone)
    organizer = event.organizer.email
    problem = policy_problem(resource.booking_policy, organizer, start, end, datetime.now(UTC))
    if problem:
        return problem, []
    blocks = await busy_blocks(
        target.tx, target.account, target.calendar, start, end, zone,
        resource.email, with_ids=True,
    )  # fmt: skip
    if any(not _mine(b.event_id, own, series_copy) for b in blocks):
        return "declined: the resource is already booked then", []
    return "", []


async def _check_series(
    target: EventTx, resource: rs_pb.Resource, event: ev_pb.Event, own: str, zone: ZoneInfo,
    now: datetime,
) -> tuple[str, list[common_pb2.EventTime]]:  # fmt: skip
    found = expand(
        event.start, event.end, event.recurrence, window_start=now, window_end=now + HORIZON,
        floating_zone=zone, limit=MAX_OCCURRENCES,
    )  # fmt: skip
    occurrences = list(found.occurrences)
    if not occurrences:
        return "", []
    first = occurrences[0]
    problem = policy_problem(
        resource.booking_policy, event.organizer.email, first.start_utc, first.end_utc, now
    )
    if problem:
        return problem, []
    blocks = await busy_blocks(
        target.tx, target.account, target.calendar, first.start_utc,
        occurrences[-1].end_utc, zone, resource.email, with_ids=True,
    )  # fmt: skip
    others = [b for b in blocks if not _mine(b.event_id, own, "")]
    clashes = [o for o in occurrences if _overlaps(o.start_utc, o.end_utc, others)]
    if not clashes:
        return "", []
    if len(clashes) > MAX_CLASHES or 3 * len(clashes) > len(occurrences):
        return (
            f"declined: {len(clashes)} of the next {len(occurrences)} occurrences clash with"
            " other bookings",
            [],
        )
    exdates = []
    for o in clashes:
        value = to_proto(o.original_start)
        if value.WhichOneof("value") == "date_time" and not value.time_zone:
            value.time_zone = event.start.time_zone
        exdates.append(value)
    shown = ", ".join(o.start_utc.strftime("%Y-%m-%dT%H:%MZ") for o in clashes)
    return f"accepted except {len(clashes)} clashing occurrences: {shown}", exdates


def _overlaps(start: datetime, end: datetime, blocks: list[BusyBlock]) -> bool:
    s, e = int(start.timestamp() * 1e6), int(end.timestamp() * 1e6)
    return any(b.start_us < e and b.end_us > s for b in blocks)


async def _put_copy(target: EventTx, copy_id_: str, copy: ev_pb.Event, series_copy: str) -> None:
    row = await target.row(copy_id_, deleted=True)
    if row is None:
        key = copy_id_[len(series_copy) + 1 :] if series_copy else ""
        await target.insert(copy_id_, copy, series_copy, key)
    else:
        before = ev_pb.Event.FromString(bytes(row["body"]))
        changed = _changed(before, copy)
        if changed or row["deleted"]:
            await target.replace(copy_id_, copy, changed, previous_kind=row["kind"])


def _changed(before: ev_pb.Event, after: ev_pb.Event) -> list[str]:
    """Top-level fields of the copy that differ (for the activity's changed fields)."""
    skip = {"etag", "create_time", "update_time", "delete_time"}
    return [
        f.name
        for f in ev_pb.Event.DESCRIPTOR.fields
        if f.name not in skip and _value(before, f.name) != _value(after, f.name)
    ]


def _value(event: ev_pb.Event, name: str) -> object:
    field = ev_pb.Event.DESCRIPTOR.fields_by_name[name]
    if field.is_repeated:
        return list(getattr(event, name))
    if field.message_type is not None and not event.HasField(name):  # type: ignore[arg-type]
        return None
    return getattr(event, name)


async def _drop_copy(target: EventTx, copy_id_: str) -> None:
    row = await target.row(copy_id_)
    if row is not None:
        body = ev_pb.Event.FromString(bytes(row["body"]))
        await target.tombstone(copy_id_, body, row["kind"])
