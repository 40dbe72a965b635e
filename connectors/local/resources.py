"""Bookable resources of the local connector: rooms, cars, equipment.

Each resource owns a calendar (created with it unless one is named): the
bookings that invite the resource's email land there (``booking.py``), so
availability reads a room's busy time like anyone's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from almanac.v1 import resource_service_pb2 as rs_pb

from connectors.base import Page, PageRequest, ResourceFilter, WriteContext
from connectors.errors import AlreadyExists, NotFound
from connectors.store import Row, Store, Transaction
from connectors.store.rows import new_id
from connectors.text import fold, like_pattern, search_text

from .calendars import CALENDARS, calendar_name, insert_calendar, lock_account
from .table import BodyTable

__all__ = ["RESOURCES", "LocalResources", "resource_name", "resources_by_email"]

ResourceMutation = Callable[[rs_pb.Resource], tuple[rs_pb.Resource, Sequence[str]]]


def resource_name(account: str, resource_id: str) -> str:
    return f"accounts/{account}/resources/{resource_id}"


def _features(resource: rs_pb.Resource) -> str:
    folded = sorted({fold(f) for f in resource.features if f.strip()})
    return "," + ",".join(folded) + "," if folded else ""


def _derived(r: rs_pb.Resource) -> dict[str, int | str]:
    parts = [r.display_name, r.description, r.location, r.building, r.floor, r.email]
    return {
        "email": r.email.lower(),
        "sort_key": fold(r.display_name),
        "search": search_text(parts),
        "category": int(r.category),
        "capacity": int(r.capacity),
        "building": fold(r.building),
        "features": _features(r),
    }


RESOURCES = BodyTable(
    table="resources",
    key_columns=("account_id", "id"),
    message=rs_pb.Resource,
    resource_type=common_pb2.RESOURCE_TYPE_RESOURCE,
    kind="resource",
    calendar_of=lambda r: r.calendar,
    derived=_derived,
)


def _where(account: str, query: ResourceFilter) -> tuple[str, list[object]]:
    where = "account_id = ?"
    args: list[object] = [account]
    if query.category == rs_pb.Resource.CATEGORY_ROOM:
        where += " AND category = ?"
        args.append(query.category)
    elif query.category:  # other: unspecified counts as other
        where += " AND category <> ?"
        args.append(rs_pb.Resource.CATEGORY_ROOM)
    if query.min_capacity:
        where += " AND capacity >= ?"
        args.append(query.min_capacity)
    if query.building:
        where += " AND building = ?"
        args.append(fold(query.building))
    for feature in query.features:
        escaped = fold(feature).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where += " AND features LIKE ? ESCAPE '\\'"
        args.append(f"%,{escaped},%")
    if query.text.strip():
        where += " AND search LIKE ? ESCAPE '\\'"
        args.append(like_pattern(query.text))
    if query.emails:
        where += f" AND email IN ({', '.join('?' for _ in query.emails)})"
        args.extend(query.emails)
    return where, args


async def resources_by_email(
    tx: Transaction, dialect: str, account: str, emails: Sequence[str]
) -> list[rs_pb.Resource]:
    """The account's resources with these emails, locked until commit.

    The row lock is what makes two concurrent bookings of one slot take
    turns on PostgreSQL (SQLite's single writer already does).
    """
    if not emails:
        return []
    lock = " ORDER BY id FOR UPDATE" if dialect == "postgresql" else ""
    marks = ", ".join("?" for _ in emails)
    rows = await tx.fetchall(
        f"SELECT body FROM resources WHERE account_id = ? AND email IN ({marks}){lock}",
        account,
        *(e.lower() for e in emails),
    )
    return [rs_pb.Resource.FromString(bytes(r["body"])) for r in rows]


class LocalResources:
    """The ``ResourceStore`` capability."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def list_resources(
        self, account: str, query: ResourceFilter, page: PageRequest
    ) -> Page[rs_pb.Resource]:
        where, args = _where(account, query)
        total = await self._store.fetchone(
            f"SELECT COUNT(*) AS n FROM resources WHERE {where}", *args
        )
        if page.position:
            sort_key, last_id = page.position.split("\x00", 1)
            where += " AND (sort_key > ? OR (sort_key = ? AND id > ?))"
            args += [sort_key, sort_key, last_id]
        limit = f" LIMIT {page.size + 1}" if page.size else ""
        rows: list[Row] = await self._store.fetchall(
            f"SELECT id, sort_key, body FROM resources WHERE {where} ORDER BY sort_key, id{limit}",
            *args,
        )
        size = page.size or len(rows)
        items = [rs_pb.Resource.FromString(bytes(r["body"])) for r in rows[:size]]
        next_position = None
        if len(rows) > size:
            last = rows[size - 1]
            next_position = f"{last['sort_key']}\x00{last['id']}"
        return Page(items, next_position, int(total["n"]) if total else 0)

    async def get_resource(self, account: str, resource_id: str) -> rs_pb.Resource:
        return await RESOURCES.get(
            self._store, (account, resource_id), resource_name(account, resource_id)
        )

    async def create_resource(
        self, account: str, resource: rs_pb.Resource, resource_id: str, ctx: WriteContext
    ) -> rs_pb.Resource:
        stored = rs_pb.Resource()
        stored.CopyFrom(resource)
        stored.name = resource_name(account, resource_id)
        dialect = self._store.dialect
        async with self._store.transaction() as tx:
            await lock_account(tx, dialect, account)
            await _check_email_free(tx, account, stored.email, resource_id)
            if stored.calendar:
                calendar_id = stored.calendar.rsplit("/", 1)[1]
                await CALENDARS.get(tx, (account, calendar_id), stored.calendar)
            else:
                calendar_id = new_id()
                account_row = await tx.fetchone("SELECT body FROM accounts WHERE id = ?", account)
                zone = _account_zone(account_row)
                calendar = cal_pb.Calendar(
                    display_name=stored.display_name,
                    description=f"Bookings of {stored.display_name}",
                    location=stored.location,
                    time_zone=zone,
                )
                await insert_calendar(tx, dialect, account, calendar, calendar_id, ctx)
                stored.calendar = calendar_name(account, calendar_id)
            return await RESOURCES.insert(tx, dialect, (account, resource_id), stored, ctx)

    async def update_resource(
        self, account: str, resource_id: str, apply: ResourceMutation, etag: str,
        ctx: WriteContext,
    ) -> rs_pb.Resource:  # fmt: skip
        name = resource_name(account, resource_id)
        async with self._store.transaction() as tx:
            # The new email and calendar are checked before the write; the
            # unique index still guards a concurrent rename to the same email.
            current = await RESOURCES.get(tx, (account, resource_id), name)
            updated, _ = apply(current)
            if updated.email.lower() != current.email.lower():
                await _check_email_free(tx, account, updated.email, resource_id)
            if updated.calendar != current.calendar and updated.calendar:
                calendar_id = updated.calendar.rsplit("/", 1)[1]
                await CALENDARS.get(tx, (account, calendar_id), updated.calendar)
            return await RESOURCES.update(
                tx, self._store.dialect, (account, resource_id), name, apply, etag, ctx
            )

    async def delete_resource(
        self, account: str, resource_id: str, etag: str, ctx: WriteContext
    ) -> None:
        name = resource_name(account, resource_id)
        async with self._store.transaction() as tx:
            await RESOURCES.delete(tx, self._store.dialect, (account, resource_id), name, etag, ctx)


async def _check_email_free(tx: Transaction, account: str, email: str, resource_id: str) -> None:
    row = await tx.fetchone(
        "SELECT id FROM resources WHERE account_id = ? AND email = ?", account, email.lower()
    )
    if row is not None and row["id"] != resource_id:
        raise AlreadyExists(
            f"resource {resource_name(account, row['id'])} already has the email {email!r}",
            reason="RESOURCE_EMAIL_TAKEN",
        )


def _account_zone(row: Row | None) -> str:
    if row is None:
        raise NotFound("account not found")
    account = acc_pb.Account.FromString(bytes(row["body"]))
    return account.default_time_zone or "UTC"
