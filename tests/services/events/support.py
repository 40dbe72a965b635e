"""Builders shared by the EventService tests (no tests here).

Times are built as the contract types them: ``at(...)`` an exact instant
with its IANA zone, ``day(...)`` an all-day date, ``wall(...)`` a floating
wall-clock time. ``EventsOf`` wraps one account's EventService stub with the
calls the tests repeat.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import field_mask_pb2, timestamp_pb2
from google.type import date_pb2, datetime_pb2

from tests.helpers import Almanac, TestAccount, list_all

UTC = dt.UTC


def ts(moment: dt.datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(moment.astimezone(UTC))
    return out


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(zone: str, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZoneInfo(zone))  # type: ignore[misc]


def at(moment: dt.datetime, zone: str = "") -> common_pb2.EventTime:
    """A timed EventTime; ``zone`` defaults to the datetime's own zone name."""
    if not zone and isinstance(moment.tzinfo, ZoneInfo):
        zone = moment.tzinfo.key
    return common_pb2.EventTime(date_time=ts(moment), time_zone=zone)


def day(year: int, month: int, d: int) -> common_pb2.EventTime:
    return common_pb2.EventTime(date=date_pb2.Date(year=year, month=month, day=d))


def wall(*args: int) -> common_pb2.EventTime:
    y, mo, d, h, mi = (*args, 0, 0)[:5]
    return common_pb2.EventTime(
        floating=datetime_pb2.DateTime(year=y, month=mo, day=d, hours=h, minutes=mi)
    )


def instant(value: common_pb2.EventTime) -> dt.datetime:
    """The UTC instant of a timed EventTime."""
    assert value.WhichOneof("value") == "date_time", value
    return value.date_time.ToDatetime(UTC)


def date_of(value: common_pb2.EventTime) -> dt.date:
    assert value.WhichOneof("value") == "date", value
    return dt.date(value.date.year, value.date.month, value.date.day)


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


def suffix(moment: dt.datetime) -> str:
    """The instance-id suffix of a timed original start."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass
class EventsOf:
    """One account's EventService (admin token unless ``stub`` is given)."""

    account: TestAccount
    stub: Any = None

    def __post_init__(self) -> None:
        if self.stub is None:
            self.stub = self.account.events()

    def create(self, calendar: str = "", event_id: str = "", **fields: Any) -> ev_pb.Event:
        return self.stub.CreateEvent(
            ev_pb.CreateEventRequest(
                parent=calendar or self.account.primary,
                event_id=event_id,
                event=ev_pb.Event(**fields),
            )
        )

    def get(self, name: str, **fields: Any) -> ev_pb.Event:
        return self.stub.GetEvent(ev_pb.GetEventRequest(name=name, **fields))

    def update(self, event: ev_pb.Event, *paths: str, scope: int = 0) -> ev_pb.Event:
        return self.stub.UpdateEvent(
            ev_pb.UpdateEventRequest(
                event=event, update_mask=mask(*paths) if paths else None, scope=scope
            )
        )

    def delete(self, name: str, scope: int = 0, etag: str = "") -> None:
        self.stub.DeleteEvent(ev_pb.DeleteEventRequest(name=name, scope=scope, etag=etag))

    def listing(self, calendar: str = "", **fields: Any) -> list[ev_pb.Event]:
        """Every page of ``ListEvents``."""
        request = ev_pb.ListEventsRequest(parent=calendar or self.account.primary, **fields)
        return list_all(self.stub.ListEvents, request, "events")

    def window(
        self, start: dt.datetime, end: dt.datetime, calendar: str = "", **fields: Any
    ) -> list[ev_pb.Event]:
        return self.listing(calendar, start_time=ts(start), end_time=ts(end), **fields)

    def instances(self, name: str, **fields: Any) -> list[ev_pb.Event]:
        request = ev_pb.ListEventInstancesRequest(name=name, **fields)
        return list_all(self.stub.ListEventInstances, request, "events")


def names(events: list[ev_pb.Event]) -> list[str]:
    return [e.name for e in events]


def starts(events: list[ev_pb.Event]) -> list[dt.datetime]:
    return [instant(e.start) for e in events]


# --- the state store, read directly ----------------------------------------------


def _sqlite_path(url: str) -> str:
    assert url.startswith("sqlite:///"), url
    return url[len("sqlite:///") :]


async def _pg_rows(url: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(url)
    try:
        return [dict(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


def store_rows(almanac: Almanac, sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows of a read-only query on the services' store (``?`` placeholders)."""
    url = almanac.store_url
    if url.startswith("sqlite:"):
        conn = sqlite3.connect(f"file:{_sqlite_path(url)}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql, args).fetchall()]
        finally:
            conn.close()
    import asyncio

    numbered = sql
    for i in range(1, len(args) + 1):
        numbered = numbered.replace("?", f"${i}", 1)
    return asyncio.run(_pg_rows(url, numbered, *args))
