"""What the local connector tells the mirror inside each write's transaction.

A local account has no hook. A remote account's mirror is the local
connector with a :class:`Upstream` hook (``connectors.sync.mirror``), which
sends the change upstream before the transaction commits; its exception
rolls the whole write back.
"""

from __future__ import annotations

from typing import Protocol

from almanac.v1 import calendar_service_pb2 as cal_pb

from connectors.store import Transaction

__all__ = ["Upstream"]


class Upstream(Protocol):
    async def calendar_created(
        self, tx: Transaction, account: str, calendar_id: str, calendar: cal_pb.Calendar
    ) -> None: ...

    async def calendar_updated(
        self, tx: Transaction, account: str, calendar_id: str, calendar: cal_pb.Calendar
    ) -> None: ...

    async def calendar_deleted(self, tx: Transaction, account: str, calendar_id: str) -> None: ...

    async def series_changed(
        self, tx: Transaction, account: str, calendar_id: str, uids: set[str]
    ) -> None:
        """The events with these iCalendar UIDs changed (one upstream object each)."""
