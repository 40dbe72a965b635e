"""The connector contract: what a calendar backend must do for Almanac.

A connector is a handful of small async capabilities. Servicers reach one
only through :func:`connectors.registry.Connectors.connector_for` and depend
on the narrowest protocol they need; a capability the account's connector
lacks is :class:`connectors.errors.Unsupported` (UNIMPLEMENTED, reason
``CAPABILITY_NOT_SUPPORTED``) before anything else happens.

The unified model *is* the ``almanac.v1`` protobuf messages: a connector
converts its backend's payloads to and from them at its boundary, the way an
httpx transport turns a socket into a ``Response``. Every backend error is
mapped there too, into the tree in :mod:`connectors.errors`.

Two kinds of connector implement these protocols:

* ``local`` keeps calendars in Almanac's own state store;
* a remote backend (CalDAV, Google, Graph) is *mirrored* into that store by
  :mod:`connectors.sync`: reads come from the mirror, writes go upstream
  first. A remote backend only implements the small contract in
  :mod:`connectors.remote`; the mirror supplies everything here.

Writes take the caller's expected ``etag`` (mismatch: ``EtagMismatch``) and a
:class:`WriteContext` naming who acts, so the change and its activity are
recorded in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Generic, NamedTuple, Protocol, TypeAlias, TypeVar, runtime_checkable

from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import contact_service_pb2 as ct_pb
from almanac.v1 import event_service_pb2 as ev_pb
from almanac.v1 import resource_service_pb2 as rs_pb

__all__ = [
    "ALL_CAPABILITIES",
    "PRIMARY_ID",
    "AccountConnector",
    "BusyBlock",
    "BusyRead",
    "BusyTime",
    "CalendarMutation",
    "CalendarStore",
    "Capability",
    "Connector",
    "ContactStore",
    "EventMutation",
    "EventQuery",
    "EventStore",
    "IcsImport",
    "ImportCounts",
    "Page",
    "PageRequest",
    "ResourceFilter",
    "ResourceStore",
    "ScheduleMutation",
    "ScheduleStore",
    "WriteContext",
]

T = TypeVar("T")

# Every account's primary calendar has this id, so the alias needs no lookup.
PRIMARY_ID = "primary"

# The proto enum is the one name of each capability, from contract to test.
Capability: TypeAlias = acc_pb.Capability.ValueType
ALL_CAPABILITIES: frozenset[Capability] = frozenset(
    v for v in acc_pb.Capability.values() if v != acc_pb.CAPABILITY_UNSPECIFIED
)

# A read-modify-write step: given the current resource, the new one and the
# field paths that changed. Connectors run it inside their transaction.
CalendarMutation = Callable[[cal_pb.Calendar], tuple[cal_pb.Calendar, Sequence[str]]]
ScheduleMutation = Callable[[cal_pb.Schedule], tuple[cal_pb.Schedule, Sequence[str]]]
EventMutation = Callable[[ev_pb.Event], tuple[ev_pb.Event, Sequence[str]]]


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


@dataclass(frozen=True)
class EventQuery:
    """What ``ListEvents`` asks for, already validated and defaulted."""

    window_start: datetime | None
    window_end: datetime | None
    zone: tzinfo  # the calendar's, for all-day and floating times
    instances: bool = True
    order_field: str = "start"
    descending: bool = False
    updated_after_us: int | None = None
    show_deleted: bool = False
    category: str = ""
    event_type: str = ""
    attendee_email: str = ""
    attending_email: str = ""  # attendingOnly: this attendee, not declined (lower-case)
    text: str = ""
    limit: int = 50_000
    only_series: str = ""  # ListEventInstances: the one master to expand
    truncate: bool = False  # past `limit`: keep the first ones instead of failing


class BusyBlock(NamedTuple):
    """Plain tuples: a query over 20 busy calendars returns tens of thousands."""

    start_us: int
    end_us: int
    tentative: bool
    event_id: str  # the event or instance id in its calendar; "" unless asked for


@dataclass(frozen=True, slots=True)
class BusyRead:
    """One calendar of a batched busy read (`BusyTime.busy_blocks_many`)."""

    calendar: str
    zone: tzinfo
    who: str = ""  # the participant's email: events it declined do not block


@dataclass(frozen=True)
class ResourceFilter:
    """What ``ListResources`` and room finding ask for; empty parts match all."""

    category: int = 0  # almanac.v1.Resource.Category
    min_capacity: int = 0
    building: str = ""  # case- and accent-insensitive, whole
    features: tuple[str, ...] = ()  # every one, case-insensitive
    text: str = ""  # in names, description, location, building, email
    emails: tuple[str, ...] = ()  # only these emails (booking), lower-case


@dataclass(frozen=True)
class ImportCounts:
    created: int = 0
    updated: int = 0
    exceptions: int = 0


@runtime_checkable
class Connector(Protocol):
    """A backend for one or more accounts."""

    name: str
    capabilities: frozenset[Capability]

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
        self, account: str, calendar_id: str, apply: CalendarMutation, etag: str,
        ctx: WriteContext,
    ) -> cal_pb.Calendar:  # fmt: skip
        """Read-modify-write: ``apply`` turns the current calendar into the new one."""

    async def delete_calendar(
        self, account: str, calendar_id: str, etag: str, ctx: WriteContext
    ) -> None:
        """Delete the calendar with everything in it."""


class ScheduleStore(Protocol):
    """Working-hours schedules under a calendar (Almanac's own data)."""

    async def list_schedules(
        self, account: str, calendar_id: str, page: PageRequest
    ) -> Page[cal_pb.Schedule]: ...

    async def schedules_of(
        self, account: str, calendar_ids: Sequence[str], limit: int = 1000
    ) -> list[list[cal_pb.Schedule]]:
        """The first ``limit`` schedules of each existing calendar, in order."""

    async def get_schedule(
        self, account: str, calendar_id: str, schedule_id: str
    ) -> cal_pb.Schedule: ...

    async def create_schedule(
        self, account: str, calendar_id: str, schedule: cal_pb.Schedule, schedule_id: str,
        ctx: WriteContext,
    ) -> cal_pb.Schedule: ...  # fmt: skip

    async def update_schedule(
        self, account: str, calendar_id: str, schedule_id: str, apply: ScheduleMutation,
        etag: str, ctx: WriteContext,
    ) -> cal_pb.Schedule: ...  # fmt: skip

    async def delete_schedule(
        self, account: str, calendar_id: str, schedule_id: str, etag: str, ctx: WriteContext
    ) -> None: ...


class EventStore(Protocol):
    """Events of a calendar, with recurring series and their instances.

    Instance ids are ``{series id}_{original start}``; ``scope`` is an
    ``almanac.v1.RecurrenceScope`` (this instance, this and following, all).
    """

    async def list_events(
        self, account: str, calendar: str, query: EventQuery, page: PageRequest
    ) -> Page[ev_pb.Event]:
        """Events (or their instances) in the query's window, in its order."""

    async def all_events(self, account: str, calendar: str) -> list[ev_pb.Event]:
        """Every live single event, series master and exception (for export)."""

    async def get_event(
        self, account: str, calendar: str, event_id: str, zone: tzinfo, instance_index: int = 0
    ) -> ev_pb.Event:
        """An event or instance; with ``instance_index``, that instance of the series."""

    async def create_event(
        self, account: str, calendar: str, event: ev_pb.Event, event_id: str, ctx: WriteContext
    ) -> ev_pb.Event: ...

    async def update_event(
        self, account: str, calendar: str, event_id: str, apply: EventMutation, etag: str,
        scope: int, ctx: WriteContext, zone: tzinfo,
    ) -> ev_pb.Event: ...  # fmt: skip

    async def delete_event(
        self, account: str, calendar: str, event_id: str, etag: str, scope: int,
        ctx: WriteContext, zone: tzinfo,
    ) -> None: ...  # fmt: skip


class BusyTime(Protocol):
    """What availability and free/busy read: blocks, never event bodies."""

    async def busy_blocks(
        self, account: str, calendar: str, window_start: datetime, window_end: datetime,
        zone: tzinfo, who: str = "", *, with_ids: bool = False,
    ) -> list[BusyBlock]:  # fmt: skip
        """Blocks overlapping the window, sorted. ``who``: the participant's email."""

    async def busy_blocks_many(
        self, account: str, reads: Sequence[BusyRead], window_start: datetime,
        window_end: datetime, *, with_ids: bool = False,
    ) -> list[list[BusyBlock]]:  # fmt: skip
        """`busy_blocks` of several calendars of the account at once, in order."""

    async def busy_spans_many(
        self, account: str, reads: Sequence[BusyRead], window_start: datetime,
        window_end: datetime,
    ) -> list[list[tuple[int, int]]]:  # fmt: skip
        """Only the (start, end) of `busy_blocks_many`, microseconds, sorted."""


class IcsImport(Protocol):
    """ImportCalendar: everything or nothing, matched by UID."""

    async def import_events(
        self, account: str, calendar: str, events: Sequence[ev_pb.Event],
        exceptions: Sequence[ev_pb.Event], ctx: WriteContext, response: bytes | None = None,
    ) -> ImportCounts: ...  # fmt: skip


class ContactStore(Protocol):
    """Contacts of an account (ContactService): the local connector keeps
    them; remote backends lack the capability until CardDAV brings it."""

    async def list_contacts(
        self, account: str, query: str, page: PageRequest
    ) -> Page[ct_pb.Contact]:
        """Contacts matching ``query`` (names, emails, phones, organizations)."""

    async def get_contact(self, account: str, contact_id: str) -> ct_pb.Contact: ...

    async def create_contact(
        self, account: str, contact: ct_pb.Contact, contact_id: str, ctx: WriteContext
    ) -> ct_pb.Contact: ...

    async def update_contact(
        self, account: str, contact_id: str, apply: Callable[[ct_pb.Contact], tuple[
            ct_pb.Contact, Sequence[str]]], etag: str, ctx: WriteContext,
    ) -> ct_pb.Contact: ...  # fmt: skip

    async def delete_contact(
        self, account: str, contact_id: str, etag: str, ctx: WriteContext
    ) -> None: ...


class ResourceStore(Protocol):
    """Rooms and other bookable resources (ResourceService; same state as contacts)."""

    async def list_resources(
        self, account: str, query: ResourceFilter, page: PageRequest
    ) -> Page[rs_pb.Resource]:
        """Matching resources by display name; ``page.size`` 0: all of them."""

    async def get_resource(self, account: str, resource_id: str) -> rs_pb.Resource: ...

    async def create_resource(
        self, account: str, resource: rs_pb.Resource, resource_id: str, ctx: WriteContext
    ) -> rs_pb.Resource:
        """Store it; without ``calendar``, create its calendar in the same transaction."""

    async def update_resource(
        self, account: str, resource_id: str, apply: Callable[[rs_pb.Resource], tuple[
            rs_pb.Resource, Sequence[str]]], etag: str, ctx: WriteContext,
    ) -> rs_pb.Resource: ...  # fmt: skip

    async def delete_resource(
        self, account: str, resource_id: str, etag: str, ctx: WriteContext
    ) -> None: ...


class AccountConnector(
    Connector, CalendarStore, ScheduleStore, EventStore, BusyTime, IcsImport, ContactStore,
    ResourceStore, Protocol,
):  # fmt: skip
    """All a servicer reaches through; the capability check guards each part."""
