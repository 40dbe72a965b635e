"""How an event becomes rows: stored instants, series bounds, instances.

All-day and floating times are stored as if they were UTC (``floating`` = 1)
and placed in the calendar's zone only when read; timed events store their
exact instants. A master's row spans its whole series; its instances up to a
horizon are materialized in ``event_instances`` so that a range listing is an
index scan, and instances past the horizon are expanded when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb

from connectors.recurrence import (
    Occurrence,
    expand,
    from_proto,
    localize,
    parse_rrule,
    to_proto,
    to_utc,
)
from connectors.store.rows import us_from_datetime as us

__all__ = [
    "ENDLESS_US",
    "HORIZON",
    "KIND_EXCEPTION",
    "KIND_MASTER",
    "KIND_SINGLE",
    "MATERIALIZE_LIMIT",
    "InstanceRow",
    "Span",
    "event_span",
    "is_floating",
    "materialize",
    "place",
    "project_instance",
    "shift",
    "us",
]

KIND_SINGLE = 1
KIND_MASTER = 2
KIND_EXCEPTION = 3

ENDLESS_US = 2**62  # the end of an endless series
# How far ahead a series is materialized, and at most how many instances;
# later instances are expanded on demand, so these only trade write cost
# against read cost.
HORIZON = timedelta(days=2 * 366)
MATERIALIZE_LIMIT = 2000
# The largest UTC offset in use (+14:00, Kiritimati), by which a range query
# widens for all-day and floating rows.
MAX_OFFSET = timedelta(hours=14)


_LATEST = datetime(9999, 12, 31, tzinfo=UTC)
_EARLIEST = datetime(1, 1, 1, tzinfo=UTC)


def shift(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, saturating at the ends of the datetime range.

    Windows are widened by up to 14 hours around instants a client may send
    as early as year 1 or as late as 9999.
    """
    try:
        return moment + delta
    except OverflowError:
        return _EARLIEST if delta < timedelta(0) else _LATEST


def from_us(value: int) -> datetime:
    """The instant of stored microseconds; an endless series ends at the latest one."""
    if value >= ENDLESS_US:
        return _LATEST
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)


def is_floating(start: common_pb2.EventTime) -> bool:
    return start.WhichOneof("value") in ("date", "floating")


def place(stored_us: int, floating: bool, zone: tzinfo) -> datetime:
    """The real instant of a stored value, given the calendar's current zone."""
    moment = from_us(stored_us)
    if not floating or stored_us >= ENDLESS_US:
        return moment
    return localize(moment.replace(tzinfo=None), zone).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Span:
    start_us: int
    end_us: int
    floating: bool


def event_span(event: ev_pb.Event) -> Span:
    """Stored range of a single event or exception (floating ones as UTC)."""
    start = to_utc(from_proto(event.start), UTC)
    end = to_utc(from_proto(event.end), UTC)
    return Span(us(start), us(end), is_floating(event.start))


@dataclass(frozen=True, slots=True)
class InstanceRow:
    key: str
    index: int
    start_us: int
    end_us: int


@dataclass(frozen=True, slots=True)
class Materialized:
    span: Span  # the series' whole range
    horizon_us: int  # instances starting before this are in `rows`
    rows: list[InstanceRow]


def _bounded(recurrence: ev_pb.Recurrence) -> bool:
    """Whether every RRULE ends (COUNT or UNTIL); RDATEs are finite anyway."""
    return all(
        (spec.count is not None or spec.until is not None)
        for spec in (parse_rrule(r) for r in recurrence.rrules)
    )


def materialize(master: ev_pb.Event, now: datetime) -> Materialized:
    """The rows of a series: its range and its instances up to the horizon."""
    first = to_utc(from_proto(master.start), UTC)
    floating = is_floating(master.start)
    horizon = max(now, first) + HORIZON
    found = expand(
        master.start,
        master.end,
        master.recurrence,
        window_end=horizon,
        limit=MATERIALIZE_LIMIT,
    )
    rows = [
        InstanceRow(o.instance_id_suffix, o.index, us(o.start_utc), us(o.end_utc))
        for o in found.occurrences
    ]
    if found.truncated:
        horizon = found.occurrences[-1].start_utc + timedelta(microseconds=1)
    end_us = ENDLESS_US
    if _bounded(master.recurrence):
        # Bounded series are expanded to their end once, at write time, so
        # range queries can skip a finished series by its row alone.
        every = found
        if found.truncated or not _ends_before(master, horizon):
            every = expand(master.start, master.end, master.recurrence)
        end_us = max((us(o.end_utc) for o in every.occurrences), default=us(first))
    return Materialized(Span(us(first), end_us, floating), us(horizon), rows)


def _ends_before(master: ev_pb.Event, horizon: datetime) -> bool:
    """Whether no instance of the series starts at or after ``horizon``."""
    later = expand(master.start, master.end, master.recurrence, window_start=horizon, limit=1)
    return not later.occurrences


def project_instance(master: ev_pb.Event, occurrence: Occurrence) -> ev_pb.Event:
    """The instance of ``master`` at ``occurrence``, as clients see it."""
    instance = ev_pb.Event()
    instance.CopyFrom(master)
    instance.ClearField("recurrence")
    instance.name = f"{master.name}_{occurrence.instance_id_suffix}"
    instance.recurrence_type = ev_pb.RECURRENCE_TYPE_INSTANCE
    instance.recurring_master = master.name
    instance.instance_index = occurrence.index
    instance.original_start.CopyFrom(_keep_zone(to_proto(occurrence.original_start), master.start))
    instance.start.CopyFrom(_keep_zone(to_proto(occurrence.original_start), master.start))
    instance.end.CopyFrom(_keep_zone(to_proto(occurrence.end), master.end))
    return instance


def _keep_zone(value: common_pb2.EventTime, like: common_pb2.EventTime) -> common_pb2.EventTime:
    if value.WhichOneof("value") == "date_time" and like.time_zone:
        value.time_zone = like.time_zone
    return value
