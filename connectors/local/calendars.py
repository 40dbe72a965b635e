"""Calendars and schedules of the local connector.

The primary calendar has the id ``primary``: it is created with the account
and cannot be deleted, so the alias needs no lookup.
"""

from __future__ import annotations

from collections.abc import Sequence

from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2

from connectors.base import (
    PRIMARY_ID,
    CalendarMutation,
    Page,
    PageRequest,
    ScheduleMutation,
    WriteContext,
)
from connectors.errors import FailedPrecondition, NotFound
from connectors.store import Store, Transaction

from .hooks import Upstream
from .table import BodyTable

__all__ = [
    "CALENDARS",
    "CALENDAR_CONTENTS",
    "PRIMARY_ID",
    "SCHEDULES",
    "LocalCalendars",
    "insert_calendar",
    "remove_calendar",
]

# Tables whose rows belong to a calendar, deleted with it.
CALENDAR_CONTENTS = ("schedules", "event_instances", "events", "calendar_subscribers")

CALENDARS = BodyTable(
    table="calendars",
    key_columns=("account_id", "id"),
    message=cal_pb.Calendar,
    resource_type=common_pb2.RESOURCE_TYPE_CALENDAR,
    kind="calendar",
    calendar_of=lambda c: c.name,
)
SCHEDULES = BodyTable(
    table="schedules",
    key_columns=("account_id", "calendar_id", "id"),
    message=cal_pb.Schedule,
    resource_type=common_pb2.RESOURCE_TYPE_SCHEDULE,
    kind="schedule",
    calendar_of=lambda s: s.name.rsplit("/schedules/", 1)[0],
)


def calendar_name(account: str, calendar_id: str) -> str:
    return f"accounts/{account}/calendars/{calendar_id}"


async def insert_calendar(
    tx: Transaction,
    dialect: str,
    account: str,
    calendar: cal_pb.Calendar,
    calendar_id: str,
    ctx: WriteContext,
) -> cal_pb.Calendar:
    """Insert inside ``tx``; also used when an account creates its primary."""
    stored = cal_pb.Calendar()
    stored.CopyFrom(calendar)
    stored.ClearField("schedules")
    stored.name = calendar_name(account, calendar_id)
    stored.primary = calendar_id == PRIMARY_ID
    return await CALENDARS.insert(
        tx, dialect, (account, calendar_id), stored, ctx, {"is_primary": int(stored.primary)}
    )


async def lock_account(tx: Transaction, dialect: str, account: str) -> None:
    """Fail unless the account exists, and keep it from being deleted until commit.

    SQLite's single writer already serializes this with DeleteAccount; on
    PostgreSQL the shared row lock does, so no calendar outlives its account.
    """
    lock = " FOR SHARE" if dialect == "postgresql" else ""
    if await tx.fetchone(f"SELECT id FROM accounts WHERE id = ?{lock}", account) is None:
        raise NotFound(f"account accounts/{account} not found")


async def remove_calendar(
    tx: Transaction, dialect: str, account: str, calendar_id: str, etag: str,
    ctx: WriteContext, *, allow_primary: bool = False,
) -> None:  # fmt: skip
    """Delete a calendar and what lives in it (a calendar re-created under the
    same id must start empty); its DELETED activity covers them all, as
    Google's and CalDAV's collection deletes do."""
    name = calendar_name(account, calendar_id)
    check = None if allow_primary else _not_primary
    await CALENDARS.delete(tx, dialect, (account, calendar_id), name, etag, ctx, check)
    for table in CALENDAR_CONTENTS:
        await tx.execute(
            f"DELETE FROM {table} WHERE account_id = ? AND calendar_id = ?", account, calendar_id
        )


def _not_primary(calendar: cal_pb.Calendar) -> None:
    if calendar.primary:
        raise FailedPrecondition(
            "the primary calendar cannot be deleted", reason="PRIMARY_CALENDAR"
        )


class LocalCalendars:
    """The ``CalendarStore`` and ``ScheduleStore`` capabilities.

    Schedules (working hours) are Almanac's own data on every account, so
    they never go upstream.
    """

    def __init__(self, store: Store, upstream: Upstream | None = None) -> None:
        self._store = store
        self._upstream = upstream

    async def list_calendars(self, account: str, page: PageRequest) -> Page[cal_pb.Calendar]:
        # Keyset pagination on (primary first, create_time, id) stays stable
        # while calendars are added or removed between pages.
        args: list[object] = [account]
        where = "account_id = ?"
        if page.position:
            primary, created, last_id = page.position.split(":", 2)
            where += (
                " AND (is_primary < ? OR (is_primary = ? AND"
                " (create_time > ? OR (create_time = ? AND id > ?))))"
            )
            args += [int(primary), int(primary), int(created), int(created), last_id]
        rows = await self._store.fetchall(
            f"SELECT id, body, is_primary, create_time FROM calendars WHERE {where}"
            " ORDER BY is_primary DESC, create_time, id LIMIT ?",
            *args,
            page.size + 1,
        )
        total = await self._store.fetchone(
            "SELECT COUNT(*) AS n FROM calendars WHERE account_id = ?", account
        )
        items = [cal_pb.Calendar.FromString(bytes(r["body"])) for r in rows[: page.size]]
        next_position = None
        if len(rows) > page.size:
            last = rows[page.size - 1]
            next_position = f"{last['is_primary']}:{last['create_time']}:{last['id']}"
        return Page(items, next_position, int(total["n"]) if total else 0)

    async def get_calendar(self, account: str, calendar_id: str) -> cal_pb.Calendar:
        return await CALENDARS.get(
            self._store, (account, calendar_id), calendar_name(account, calendar_id)
        )

    async def create_calendar(
        self, account: str, calendar: cal_pb.Calendar, calendar_id: str, ctx: WriteContext
    ) -> cal_pb.Calendar:
        async with self._store.transaction() as tx:
            await lock_account(tx, self._store.dialect, account)
            created = await insert_calendar(
                tx, self._store.dialect, account, calendar, calendar_id, ctx
            )
            if self._upstream is not None:
                await self._upstream.calendar_created(tx, account, calendar_id, created)
            return created

    async def update_calendar(
        self,
        account: str,
        calendar_id: str,
        apply: CalendarMutation,
        etag: str,
        ctx: WriteContext,
    ) -> cal_pb.Calendar:
        name = calendar_name(account, calendar_id)
        async with self._store.transaction() as tx:
            updated = await CALENDARS.update(
                tx, self._store.dialect, (account, calendar_id), name, apply, etag, ctx
            )
            if self._upstream is not None:
                await self._upstream.calendar_updated(tx, account, calendar_id, updated)
            return updated

    async def delete_calendar(
        self, account: str, calendar_id: str, etag: str, ctx: WriteContext
    ) -> None:
        async with self._store.transaction() as tx:
            await remove_calendar(tx, self._store.dialect, account, calendar_id, etag, ctx)
            if self._upstream is not None:
                await self._upstream.calendar_deleted(tx, account, calendar_id)

    async def list_schedules(
        self, account: str, calendar_id: str, page: PageRequest
    ) -> Page[cal_pb.Schedule]:
        await self.get_calendar(account, calendar_id)
        args: list[object] = [account, calendar_id]
        where = "account_id = ? AND calendar_id = ?"
        if page.position:
            created, last_id = page.position.split(":", 1)
            where += " AND (create_time > ? OR (create_time = ? AND id > ?))"
            args += [int(created), int(created), last_id]
        rows = await self._store.fetchall(
            f"SELECT id, body, create_time FROM schedules WHERE {where}"
            " ORDER BY create_time, id LIMIT ?",
            *args,
            page.size + 1,
        )
        total = await self._store.fetchone(
            "SELECT COUNT(*) AS n FROM schedules WHERE account_id = ? AND calendar_id = ?",
            account,
            calendar_id,
        )
        items = [cal_pb.Schedule.FromString(bytes(r["body"])) for r in rows[: page.size]]
        next_position = None
        if len(rows) > page.size:
            last = rows[page.size - 1]
            next_position = f"{last['create_time']}:{last['id']}"
        return Page(items, next_position, int(total["n"]) if total else 0)

    async def schedules_of(
        self, account: str, calendar_ids: Sequence[str], limit: int = 1000
    ) -> list[list[cal_pb.Schedule]]:
        """The first ``limit`` schedules of each calendar (in `list_schedules`
        order), read in one statement; the calendars are known to exist."""
        if not calendar_ids:
            return []
        marks = ", ".join("?" * len(calendar_ids))
        rows = await self._store.fetchall(
            f"SELECT calendar_id, body FROM schedules WHERE account_id = ?"
            f" AND calendar_id IN ({marks}) ORDER BY calendar_id, create_time, id",
            account,
            *calendar_ids,
        )
        by_calendar: dict[str, list[cal_pb.Schedule]] = {c: [] for c in calendar_ids}
        for row in rows:
            found = by_calendar[row["calendar_id"]]
            if len(found) < limit:
                found.append(cal_pb.Schedule.FromString(bytes(row["body"])))
        return [by_calendar[c] for c in calendar_ids]

    async def get_schedule(
        self, account: str, calendar_id: str, schedule_id: str
    ) -> cal_pb.Schedule:
        name = f"{calendar_name(account, calendar_id)}/schedules/{schedule_id}"
        return await SCHEDULES.get(self._store, (account, calendar_id, schedule_id), name)

    async def create_schedule(
        self,
        account: str,
        calendar_id: str,
        schedule: cal_pb.Schedule,
        schedule_id: str,
        ctx: WriteContext,
    ) -> cal_pb.Schedule:
        stored = cal_pb.Schedule()
        stored.CopyFrom(schedule)
        stored.name = f"{calendar_name(account, calendar_id)}/schedules/{schedule_id}"
        async with self._store.transaction() as tx:
            # Checked inside the transaction so a concurrent calendar delete
            # cannot leave an orphan schedule behind.
            await CALENDARS.get(tx, (account, calendar_id), calendar_name(account, calendar_id))
            return await SCHEDULES.insert(
                tx, self._store.dialect, (account, calendar_id, schedule_id), stored, ctx
            )

    async def update_schedule(
        self,
        account: str,
        calendar_id: str,
        schedule_id: str,
        apply: ScheduleMutation,
        etag: str,
        ctx: WriteContext,
    ) -> cal_pb.Schedule:
        name = f"{calendar_name(account, calendar_id)}/schedules/{schedule_id}"
        async with self._store.transaction() as tx:
            return await SCHEDULES.update(
                tx, self._store.dialect, (account, calendar_id, schedule_id), name, apply, etag, ctx
            )

    async def delete_schedule(
        self, account: str, calendar_id: str, schedule_id: str, etag: str, ctx: WriteContext
    ) -> None:
        name = f"{calendar_name(account, calendar_id)}/schedules/{schedule_id}"
        async with self._store.transaction() as tx:
            await SCHEDULES.delete(
                tx, self._store.dialect, (account, calendar_id, schedule_id), name, etag, ctx
            )
