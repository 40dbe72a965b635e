"""Upstream calendars into the mirror, with activity for each difference.

The upstream's default calendar is Almanac's ``primary`` (created with the
account before any sync); other calendars get ids derived from their upstream
ids. A calendar gone upstream is removed from the mirror with its events.
"""

from __future__ import annotations

from collections.abc import Sequence

from almanac.v1 import calendar_service_pb2 as cal_pb

from connectors.base import WriteContext
from connectors.errors import NotFound
from connectors.local.calendars import (
    CALENDARS,
    PRIMARY_ID,
    calendar_name,
    insert_calendar,
    remove_calendar,
)
from connectors.remote import RemoteCalendar
from connectors.store import Transaction

from . import ledger
from .apply import UPSTREAM_ACTOR, event_id_for

__all__ = ["MIRRORED_FIELDS", "sync_calendars"]

# What an upstream says about a calendar; the rest (schedules, raw, ...) is Almanac's.
MIRRORED_FIELDS = ("display_name", "description", "color", "time_zone")


async def sync_calendars(
    tx: Transaction, dialect: str, account: str, upstream: Sequence[RemoteCalendar]
) -> None:
    ctx = WriteContext(UPSTREAM_ACTOR)
    mapped = {m.remote_id: m for m in await ledger.mirror_calendars(tx, account)}
    primary_taken = any(m.calendar_id == PRIMARY_ID for m in mapped.values())
    ordered = sorted(upstream, key=lambda c: not c.default)  # the default one first
    for remote in ordered:
        known = mapped.pop(remote.remote_id, None)
        if known is None:
            if not primary_taken and (remote.default or remote is ordered[0]):
                calendar_id, primary_taken = PRIMARY_ID, True
                await _update(tx, dialect, account, calendar_id, remote.calendar, ctx)
            else:
                calendar_id = await _free_id(tx, account, event_id_for(remote.remote_id))
                await insert_calendar(tx, dialect, account, _fields(remote.calendar),
                                      calendar_id, ctx)  # fmt: skip
            token = ""
        else:
            calendar_id, token = known.calendar_id, known.sync_token
            if known.remote_etag != remote.etag or not remote.etag:
                await _update(tx, dialect, account, calendar_id, remote.calendar, ctx)
        await ledger.set_mirror_calendar(
            tx, account, ledger.MirrorCalendar(calendar_id, remote.remote_id, remote.etag, token)
        )
    for gone in mapped.values():
        await ledger.drop_mirror_calendar(tx, account, gone.calendar_id)
        if gone.calendar_id != PRIMARY_ID:
            try:
                await remove_calendar(tx, dialect, account, gone.calendar_id, "", ctx)
            except NotFound:
                pass


def _fields(calendar: cal_pb.Calendar) -> cal_pb.Calendar:
    out = cal_pb.Calendar()
    for field in MIRRORED_FIELDS:
        setattr(out, field, getattr(calendar, field))
    return out


async def _update(
    tx: Transaction, dialect: str, account: str, calendar_id: str, upstream: cal_pb.Calendar,
    ctx: WriteContext,
) -> None:  # fmt: skip
    def apply(current: cal_pb.Calendar) -> tuple[cal_pb.Calendar, list[str]]:
        updated = cal_pb.Calendar()
        updated.CopyFrom(current)
        changed = []
        for field in MIRRORED_FIELDS:
            value = getattr(upstream, field)
            if value and value != getattr(current, field):
                setattr(updated, field, value)
                changed.append(field)
        return updated, changed

    name = calendar_name(account, calendar_id)
    await CALENDARS.update(tx, dialect, (account, calendar_id), name, apply, "", ctx)


async def _free_id(tx: Transaction, account: str, wanted: str) -> str:
    candidate, n = wanted, 1
    while await tx.fetchone(
        "SELECT 1 FROM calendars WHERE account_id = ? AND id = ?", account, candidate
    ):
        n += 1
        candidate = f"{wanted[:60]}-{n}"
    return candidate
