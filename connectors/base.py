"""The connector contract: what a calendar backend must do for Almanac.

A connector is a handful of small async capabilities. Services depend on the
narrowest one they need and ask ``capabilities`` before calling an optional
one; what a backend cannot do raises :class:`connectors.errors.Unsupported`,
which clients see as UNIMPLEMENTED.

The unified model *is* the ``almanac.v1`` protobuf messages: a connector
converts its backend's payloads to and from them at its boundary, the way an
httpx transport turns a socket into a ``Response``. Every backend error is
mapped there too, into the tree in :mod:`connectors.errors`.

Writes take the caller's expected ``etag`` (mismatch: ``EtagMismatch``)
and a :class:`WriteContext` naming who acts, so that a connector that keeps an
activity log (the local one) can record the change in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, runtime_checkable

from almanac.v1 import calendar_service_pb2 as cal_pb

__all__ = [
    "CAP_CALENDARS",
    "CAP_SCHEDULES",
    "CalendarMutation",
    "CalendarStore",
    "Connector",
    "Page",
    "PageRequest",
    "ScheduleMutation",
    "ScheduleStore",
    "WriteContext",
]

T = TypeVar("T")

# A read-modify-write step: given the current resource, the new one and the
# field paths that changed. Connectors run it inside their transaction.
CalendarMutation = Callable[[cal_pb.Calendar], tuple[cal_pb.Calendar, Sequence[str]]]
ScheduleMutation = Callable[[cal_pb.Schedule], tuple[cal_pb.Schedule, Sequence[str]]]

CAP_CALENDARS = "calendars"
CAP_SCHEDULES = "schedules"


@dataclass(frozen=True, slots=True)
class PageRequest:
    """``size`` items after ``position`` (an opaque string the connector made).

    ``max_bytes``: stop early once the serialized items would exceed it, so a
    response stays under the gRPC message limit.
    """

    size: int
    position: str | None = None
    max_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_position: str | None = None
    total_size: int | None = None


@dataclass(frozen=True, slots=True)
class WriteContext:
    """Who makes a change, and the idempotency key that came with it.

    ``request_id`` with ``request_hash`` lets a connector store the result of a
    create atomically with the create, so that a concurrent retry cannot
    create twice (AIP-155).
    """

    actor: str = ""
    request_id: str = ""
    request_hash: str = ""
    idempotency_scope: str = ""


@runtime_checkable
class Connector(Protocol):
    """A backend for one or more accounts."""

    name: str
    capabilities: frozenset[str]

    async def aclose(self) -> None:
        """Release connections; the connector is not used afterwards."""


class CalendarStore(Protocol):
    """Calendars of an account. ``calendar_id`` ``primary`` is an alias."""

    async def list_calendars(self, account: str, page: PageRequest) -> Page[cal_pb.Calendar]:
        """Primary first, then by creation time."""

    async def get_calendar(self, account: str, calendar_id: str) -> cal_pb.Calendar: ...

    async def create_calendar(
        self, account: str, calendar: cal_pb.Calendar, calendar_id: str, ctx: WriteContext
    ) -> cal_pb.Calendar:
        """Store ``calendar`` (already validated) under ``calendar_id``."""

    async def update_calendar(
        self,
        account: str,
        calendar_id: str,
        apply: CalendarMutation,
        etag: str,
        ctx: WriteContext,
    ) -> cal_pb.Calendar:
        """Read-modify-write: ``apply`` turns the current calendar into the new one."""

    async def delete_calendar(
        self, account: str, calendar_id: str, etag: str, ctx: WriteContext
    ) -> None: ...


class ScheduleStore(Protocol):
    """Working-hours schedules under a calendar."""

    async def list_schedules(
        self, account: str, calendar_id: str, page: PageRequest
    ) -> Page[cal_pb.Schedule]: ...

    async def get_schedule(
        self, account: str, calendar_id: str, schedule_id: str
    ) -> cal_pb.Schedule: ...

    async def create_schedule(
        self,
        account: str,
        calendar_id: str,
        schedule: cal_pb.Schedule,
        schedule_id: str,
        ctx: WriteContext,
    ) -> cal_pb.Schedule: ...

    async def update_schedule(
        self,
        account: str,
        calendar_id: str,
        schedule_id: str,
        apply: ScheduleMutation,
        etag: str,
        ctx: WriteContext,
    ) -> cal_pb.Schedule: ...

    async def delete_schedule(
        self, account: str, calendar_id: str, schedule_id: str, etag: str, ctx: WriteContext
    ) -> None: ...
