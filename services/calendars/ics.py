"""ICS in and out of a calendar: what import keeps, what export writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb

from connectors.base import AccountConnector, CalendarMutation
from connectors.ical import to_ics
from connectors.recurrence import expand, from_proto, to_utc
from services.events.checks import check_event, normalize
from services.runtime.errors import BadRequestBuilder

__all__ = ["export_ics", "header_of", "overlapping", "storable", "with_header"]


async def export_ics(
    connector: AccountConnector, account: str, calendar: cal_pb.Calendar,
    time_range: common_pb2.TimeRange | None = None,
) -> bytes:  # fmt: skip
    """The calendar as an RFC 5545 document, with an imported file's own header."""
    calendar_id = calendar.name.rsplit("/", 1)[1]
    events = await connector.all_events(account, calendar_id)
    if time_range is not None:
        events = overlapping(events, time_range, calendar)
    return to_ics(calendar, events, header=header_of(calendar))


def storable(
    parsed: Sequence[ev_pb.Event], calendar: cal_pb.Calendar, warnings: list[cal_pb.ImportWarning]
) -> tuple[list[ev_pb.Event], set[str]]:
    """The events Almanac can hold, checked and defaulted like created ones.

    One it cannot (past a limit, say) is left out with a warning rather than
    failing the document; its exceptions go with it (the UIDs returned).
    """
    kept, skipped = [], set()
    for event in parsed:
        problems = BadRequestBuilder()
        check_event(problems, event, calendar, prefix="event")
        if problems.violations:
            detail = "; ".join(f"{f}: {d}" for f, d in problems.violations[:5])
            warnings.append(
                cal_pb.ImportWarning(
                    message=f"VEVENT UID {event.ical_uid[:80]!r} left out: {detail}"
                )
            )
            skipped.add(event.ical_uid)
            continue
        original = ev_pb.Event()
        original.original_start.CopyFrom(event.original_start)
        normalize(event, calendar, create=True)
        if original.HasField("original_start"):
            event.original_start.CopyFrom(original.original_start)
        kept.append(event)
    return kept, skipped


# Where an imported document's own calendar properties are kept, to be
# written again on export (`raw` is the backend's view of the calendar).
_HEADER_KEY = "icsHeader"


def header_of(calendar: cal_pb.Calendar) -> list[tuple[str, str]]:
    if _HEADER_KEY not in calendar.raw.fields:
        return []
    return [
        (str(pair.list_value.values[0].string_value), str(pair.list_value.values[1].string_value))
        for pair in calendar.raw.fields[_HEADER_KEY].list_value.values
        if len(pair.list_value.values) == 2
    ]


def with_header(header: Sequence[tuple[str, str]]) -> CalendarMutation:
    def apply(current: cal_pb.Calendar) -> tuple[cal_pb.Calendar, list[str]]:
        updated = cal_pb.Calendar()
        updated.CopyFrom(current)
        updated.raw[_HEADER_KEY] = [list(pair) for pair in header]
        return updated, ["raw"]

    return apply


def overlapping(
    events: Sequence[ev_pb.Event], time_range: common_pb2.TimeRange, calendar: cal_pb.Calendar
) -> list[ev_pb.Event]:
    """Events overlapping the range; a series when any of its instances does."""
    zone = ZoneInfo(calendar.time_zone or "UTC")
    start = time_range.start_time.ToDatetime(dt.UTC)
    end = time_range.end_time.ToDatetime(dt.UTC)
    kept = []
    for event in events:
        if event.recurrence.rrules or event.recurrence.rdates:
            found = expand(
                event.start, event.end, event.recurrence,
                window_start=start, window_end=end, floating_zone=zone, limit=1,
            )  # fmt: skip
            hit = bool(found.occurrences)
        else:
            first = to_utc(from_proto(event.start), zone)
            last = to_utc(from_proto(event.end), zone)
            hit = first < end and (last > start or first == last >= start)
        if hit:
            kept.append(event)
    return kept
