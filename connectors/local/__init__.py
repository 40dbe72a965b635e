"""The ``local`` connector: calendars kept in Almanac's own state store.

It is the embedded default and the reference implementation of the
connector contract; every change it makes is logged to the activity feed in
the same transaction.
"""

from __future__ import annotations

from connectors.base import CAP_CALENDARS, CAP_SCHEDULES
from connectors.store import Store

from .calendars import PRIMARY_ID, LocalCalendars, insert_calendar

__all__ = ["PRIMARY_ID", "LocalConnector", "insert_calendar"]


class LocalConnector(LocalCalendars):
    """All local capabilities over one store, shared by every local account."""

    name = "local"
    capabilities = frozenset({CAP_CALENDARS, CAP_SCHEDULES})

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.store = store

    async def aclose(self) -> None:
        """The store belongs to the process, not to the connector."""
