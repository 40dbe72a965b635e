"""The ``local`` connector: calendars kept in Almanac's own state store.

It is the embedded default and the reference implementation of the
connector contract; every change it makes is logged to the activity feed in
the same transaction. With an :class:`~connectors.local.hooks.Upstream` hook
the same code is a remote account's mirror (``connectors.sync``).
"""

from __future__ import annotations

from almanac.v1 import account_service_pb2 as acc_pb

from connectors.base import Capability
from connectors.store import Store

from .calendars import PRIMARY_ID, LocalCalendars, insert_calendar
from .contacts import LocalContacts
from .events import LocalEvents
from .hooks import Upstream
from .resources import LocalResources

__all__ = [
    "ACCOUNT_CONTENTS",
    "LOCAL_CAPABILITIES",
    "PRIMARY_ID",
    "LocalConnector",
    "insert_calendar",
]

# Tables of an account's own data beside its calendars, deleted with it.
ACCOUNT_CONTENTS = ("contacts", "resources")

LOCAL_CAPABILITIES: frozenset[Capability] = frozenset(
    {
        acc_pb.CAPABILITY_CALENDARS,
        acc_pb.CAPABILITY_CALENDAR_WRITE,
        acc_pb.CAPABILITY_SCHEDULES,
        acc_pb.CAPABILITY_EVENTS,
        acc_pb.CAPABILITY_EVENT_WRITE,
        acc_pb.CAPABILITY_BUSY_TIME,
        acc_pb.CAPABILITY_ICS_IMPORT,
        acc_pb.CAPABILITY_ICS_EXPORT,
        acc_pb.CAPABILITY_CONTACTS,
        acc_pb.CAPABILITY_RESOURCES,
    }
)


class LocalConnector(LocalCalendars, LocalEvents, LocalContacts, LocalResources):
    """Every local capability over one store, shared by the accounts it serves."""

    def __init__(
        self,
        store: Store,
        *,
        name: str = "local",
        capabilities: frozenset[Capability] = LOCAL_CAPABILITIES,
        upstream: Upstream | None = None,
    ) -> None:
        LocalCalendars.__init__(self, store, upstream)
        LocalEvents.__init__(self, store, upstream)
        LocalContacts.__init__(self, store)
        LocalResources.__init__(self, store)
        self.name = name
        self.capabilities = capabilities
        self.store = store

    async def aclose(self) -> None:
        """The store belongs to the process, not to the connector."""
