"""The contract of a remote calendar backend, as the mirror uses it.

A remote backend (CalDAV, Google Calendar, Microsoft Graph, the reference
backend of the tests) only moves whole objects: calendars, and *items*, one
per iCalendar UID, holding a single event or a recurring series with its
exceptions (RFC 4791's one-resource-per-UID rule, which Google's
``recurringEventId`` and Graph's ``seriesMasterId`` map onto). Everything
else (instances, listing, busy time, ICS, the activity log) is done once, by
the mirror in :mod:`connectors.sync`, so it works the same on every backend.

Like Radicale's ``BaseCollection``, the base class has correct but slow
defaults: :meth:`RemoteBackend.changes` without change tracking lists
everything and treats every older token as expired, which makes the mirror
reconcile by etag. A backend overrides it with its own change tracking
(CalDAV ``sync-collection``, Google ``syncToken``, Graph ``delta``).

Errors are mapped inside the backend into :mod:`connectors.errors`; an expired
change token is :class:`SyncTokenExpired`.
"""

from __future__ import annotations

import abc
import hashlib
from dataclasses import dataclass, field

from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import event_service_pb2 as ev_pb

from connectors.base import ALL_CAPABILITIES, Capability
from connectors.errors import FailedPrecondition

__all__ = [
    "REAUTH_REQUIRED",
    "ChangeBatch",
    "RemoteBackend",
    "RemoteCalendar",
    "RemoteItem",
    "SyncTokenExpired",
]


# The reason of an Unauthenticated that only a new consent (new credentials)
# cures, such as a revoked OAuth grant: the sync worker stops pulling the
# account until its settings change instead of retrying every few minutes.
REAUTH_REQUIRED = "ACCOUNT_REAUTH_REQUIRED"


class SyncTokenExpired(FailedPrecondition):
    """The upstream no longer knows the token: the mirror must resync fully."""


@dataclass(frozen=True)
class RemoteCalendar:
    remote_id: str
    calendar: cal_pb.Calendar  # display_name, description, color, time_zone
    etag: str = ""
    default: bool = False  # the upstream's default calendar: Almanac's `primary`


@dataclass(frozen=True)
class RemoteItem:
    """One UID: a single event or a series master first, then its exceptions."""

    uid: str
    etag: str
    events: list[ev_pb.Event] = field(default_factory=list)


@dataclass(frozen=True)
class ChangeBatch:
    """Changed items since a token, and the token to ask with next time.

    ``more``: the upstream has another page; ask again with ``token`` before
    the pull is complete (a full listing is only complete on its last page).
    """

    items: list[RemoteItem]
    deleted: list[str]  # UIDs
    token: str
    more: bool = False


class RemoteBackend(abc.ABC):
    """One remote account, built from its settings (secrets included)."""

    #: What the mirror of this backend can offer (the mirror adds the rest).
    capabilities: frozenset[Capability] = ALL_CAPABILITIES - {
        acc_pb.CAPABILITY_CONTACTS,
        acc_pb.CAPABILITY_RESOURCES,
    }

    def __init__(self, account: acc_pb.Account) -> None:
        self.account = account

    async def validate(self) -> None:
        """Check the settings with a real request (CreateAccount calls it)."""
        await self.list_calendars()

    @abc.abstractmethod
    async def list_calendars(self) -> list[RemoteCalendar]: ...

    @abc.abstractmethod
    async def create_calendar(self, calendar: cal_pb.Calendar) -> RemoteCalendar: ...

    @abc.abstractmethod
    async def update_calendar(
        self, remote_id: str, calendar: cal_pb.Calendar, etag: str
    ) -> RemoteCalendar: ...

    @abc.abstractmethod
    async def delete_calendar(self, remote_id: str, etag: str) -> None: ...

    @abc.abstractmethod
    async def list_items(self, remote_id: str) -> list[RemoteItem]:
        """Every item of the calendar."""

    @abc.abstractmethod
    async def put_item(self, remote_id: str, item: RemoteItem, etag: str | None) -> str:
        """Create (``etag`` None: must not exist) or replace (must match); the new etag."""

    @abc.abstractmethod
    async def delete_item(self, remote_id: str, uid: str, etag: str) -> None: ...

    async def changes(self, remote_id: str, token: str) -> ChangeBatch:
        """Items changed since ``token`` ("" for everything).

        Default: the whole calendar, with a token that hashes its etags; a
        different token than the current one is expired (a full resync).
        """
        items = await self.list_items(remote_id)
        current = _etag_token(items)
        if token and token != current:
            raise SyncTokenExpired("the calendar changed", reason="SYNC_TOKEN_EXPIRED")
        return ChangeBatch(items if not token else [], [], current)

    async def aclose(self) -> None:  # noqa: B027 - optional, like httpx's transports
        """Release connections."""


def _etag_token(items: list[RemoteItem]) -> str:
    digest = hashlib.sha256()
    for uid, etag in sorted((i.uid, i.etag) for i in items):
        digest.update(f"{uid}\0{etag}\n".encode())
    return "etags-" + digest.hexdigest()
