"""Reading the calendars of an availability request: checks first, then batched reads.

Each calendar is checked when it is added, in the order of the request, so
the first bad one is still the one named in the error (permission before
existence, then capability, then the calendar itself). The reads wait until
every calendar is known: the busy blocks of all of an account's calendars
come in one statement, and so do their schedules. A statement per calendar
and table was a trip to a store thread each (four per calendar), which
under load cost more than reading the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb

from connectors.base import AccountConnector, BusyBlock, BusyRead
from connectors.store.rows import datetime_from_us as from_us
from services.availability.intervals import Interval
from services.availability.working_hours import available_intervals
from services.runtime.context import Runtime
from services.runtime.names import parse_calendar

__all__ = ["CalendarData", "CalendarLoader"]


@dataclass
class CalendarData:
    name: str  # as requested
    account: str
    calendar_id: str
    calendar: cal_pb.Calendar
    who: str  # the participant's label: events it declined do not block
    schedules: bool  # whether its working hours apply
    blocks: list[BusyBlock] = field(default_factory=list)  # with details only
    spans: list[Interval] = field(default_factory=list)  # busy ranges, sorted
    working: list[Interval] | None = None  # None: always available (or not asked)


@dataclass
class _Account:
    connector: AccountConnector
    members: list[CalendarData] = field(default_factory=list)


class CalendarLoader:
    """The calendars of one request; `load` reads them all."""

    def __init__(
        self, rt: Runtime, window: Interval, *, details: bool = False, with_ids: bool = False
    ) -> None:
        """``details``: blocks with tentative and (``with_ids``) event ids, not just spans."""
        self.rt = rt
        self.window = window
        self.details = details or with_ids
        self.with_ids = with_ids
        self._accounts: dict[str, _Account] = {}

    async def add(self, name: str, field_path: str, who: str, schedules: bool) -> CalendarData:
        """Check one calendar now; its data is filled in by `load`."""
        parsed = parse_calendar(name, field_path)
        # Permission before existence.
        _, account_id = self.rt.account(parsed.account, field_path)
        connector = await self.rt.connector(account_id, acc_pb.CAPABILITY_BUSY_TIME)
        calendar = await connector.get_calendar(account_id, parsed.calendar)
        data = CalendarData(name, account_id, parsed.calendar, calendar, who, schedules)
        self._accounts.setdefault(account_id, _Account(connector)).members.append(data)
        return data

    async def load(self) -> None:
        """Every added calendar's busy blocks and working hours (one account at a time)."""
        start, end = from_us(self.window[0]), from_us(self.window[1])
        for account_id, account in self._accounts.items():
            members = account.members
            reads = [
                BusyRead(d.calendar_id, ZoneInfo(d.calendar.time_zone or "UTC"), d.who)
                for d in members
            ]
            if self.details:
                found = await account.connector.busy_blocks_many(
                    account_id, reads, start, end, with_ids=self.with_ids
                )
                for data, blocks in zip(members, found, strict=True):
                    data.blocks = blocks
                    data.spans = [(b.start_us, b.end_us) for b in blocks]
            else:
                # Building a BusyBlock per row would cost as much as reading it.
                spans = await account.connector.busy_spans_many(account_id, reads, start, end)
                for data, found_spans in zip(members, spans, strict=True):
                    data.spans = found_spans
            working = [d for d in members if d.schedules]
            schedules = await account.connector.schedules_of(
                account_id, [d.calendar_id for d in working]
            )
            for data, items in zip(working, schedules, strict=True):
                data.working = available_intervals(items, data.calendar.time_zone, self.window)
        self._accounts.clear()
