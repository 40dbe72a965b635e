"""One table of protobuf bodies: the shape every local resource shares.

Each row holds a resource's serialized message under a composite key; a
write is read, check etag, change, seal, write, append activity, all in one
transaction. Calendars, schedules, contacts and resources differ only in the
table, the key columns and the message type, which is what this class takes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import common_pb2
from google.protobuf.message import Message

from connectors.base import WriteContext
from connectors.errors import AlreadyExists, EtagMismatch, NotFound
from connectors.state.activity import append_activity
from connectors.state.idempotency import claim, fulfil
from connectors.store import IntegrityError, Store, Transaction
from connectors.store.rows import now_us, seal, timestamp_from_us

__all__ = ["BodyTable", "Mutation"]

M = TypeVar("M", bound=Message)
Mutation = Callable[[M], tuple[M, Sequence[str]]]


@dataclass(frozen=True)
class BodyTable(Generic[M]):
    table: str
    key_columns: tuple[str, ...]  # ("account_id", ..., "id"); account first, id last
    message: type[M]
    resource_type: common_pb2.ResourceType.ValueType
    kind: str  # for messages: "calendar", "schedule", ...
    # Where the resource's calendar name comes from, for the activity log.
    calendar_of: Callable[[M], str]
    # Columns computed from the body (sort and search keys), rewritten on
    # every insert and update so that they never drift from it.
    derived: Callable[[M], dict[str, int | str]] | None = None

    def _where(self) -> str:
        return " AND ".join(f"{c} = ?" for c in self.key_columns)

    async def get(self, db: Store | Transaction, key: Sequence[str], name: str) -> M:
        row = await db.fetchone(f"SELECT body FROM {self.table} WHERE {self._where()}", *key)
        if row is None:
            raise NotFound(f"{self.kind} {name} not found")
        return self.message.FromString(bytes(row["body"]))

    async def insert(
        self,
        tx: Transaction,
        dialect: str,
        key: Sequence[str],
        resource: M,
        ctx: WriteContext,
        extra: dict[str, int | str] | None = None,
    ) -> M:
        """Insert ``resource`` (its ``name`` already set) under ``key``."""
        await claim(tx, ctx)
        now = now_us()
        resource.create_time.CopyFrom(timestamp_from_us(now))  # type: ignore[attr-defined]
        resource.update_time.CopyFrom(timestamp_from_us(now))  # type: ignore[attr-defined]
        resource, body = seal(resource)
        extra = {**(extra or {}), **(self.derived(resource) if self.derived else {})}
        columns = [*self.key_columns, "body", "create_time", "update_time", *extra]
        values = [*key, body, now, now, *extra.values()]
        try:
            await tx.execute(
                f"INSERT INTO {self.table} ({', '.join(columns)})"
                f" VALUES ({', '.join('?' for _ in columns)})",
                *values,
            )
        except IntegrityError as exc:
            name = resource.name  # type: ignore[attr-defined]
            raise AlreadyExists(f"{self.kind} {name} already exists") from exc
        await self._log(tx, dialect, key, act_pb.ACTIVITY_TYPE_ADDED, resource, ctx)
        await fulfil(tx, ctx, body)
        return resource

    async def update(
        self,
        tx: Transaction,
        dialect: str,
        key: Sequence[str],
        name: str,
        apply: Mutation[M],
        etag: str,
        ctx: WriteContext,
    ) -> M:
        current = await self.get(tx, key, name)
        self._check_etag(current, etag, name)
        updated, changed = apply(current)
        if not changed:
            return current
        now = now_us()
        updated.update_time.CopyFrom(timestamp_from_us(now))  # type: ignore[attr-defined]
        updated, body = seal(updated)
        derived = self.derived(updated) if self.derived else {}
        sets = "".join(f", {column} = ?" for column in derived)
        await tx.execute(
            f"UPDATE {self.table} SET body = ?, update_time = ?{sets} WHERE {self._where()}",
            body,
            now,
            *derived.values(),
            *key,
        )
        await self._log(tx, dialect, key, act_pb.ACTIVITY_TYPE_UPDATED, updated, ctx, changed)
        return updated

    async def delete(
        self,
        tx: Transaction,
        dialect: str,
        key: Sequence[str],
        name: str,
        etag: str,
        ctx: WriteContext,
        check: Callable[[M], None] | None = None,
    ) -> M:
        current = await self.get(tx, key, name)
        self._check_etag(current, etag, name)
        if check is not None:
            check(current)
        await tx.execute(f"DELETE FROM {self.table} WHERE {self._where()}", *key)
        await self._log(tx, dialect, key, act_pb.ACTIVITY_TYPE_DELETED, current, ctx)
        return current

    def _check_etag(self, current: M, etag: str, name: str) -> None:
        if etag and etag != current.etag:  # type: ignore[attr-defined]
            raise EtagMismatch(f"{self.kind} {name} was changed since etag {etag} was read")

    async def _log(
        self,
        tx: Transaction,
        dialect: str,
        key: Sequence[str],
        activity_type: act_pb.ActivityType.ValueType,
        resource: M,
        ctx: WriteContext,
        changed: Sequence[str] = (),
    ) -> None:
        await append_activity(
            tx,
            dialect,
            account=key[0],
            activity_type=activity_type,
            resource_type=self.resource_type,
            resource=resource.name,  # type: ignore[attr-defined]
            calendar=self.calendar_of(resource),
            actor=ctx.actor,
            snapshot=resource,
            changed_fields=changed,
        )
