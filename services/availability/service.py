"""AvailabilityService: meeting times and free/busy across calendars and accounts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from zoneinfo import ZoneInfo

from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import availability_service_pb2 as av_pb
from almanac.v1 import availability_service_pb2_grpc as av_grpc
from almanac.v1 import event_service_pb2 as ev_pb
from almanac.v1 import resource_service_pb2 as rs_pb
from google.type import datetime_pb2

from connectors.store.rows import datetime_from_us as from_us
from connectors.store.rows import timestamp_from_us, us_from_timestamp
from services.availability.checks import check_free_busy, check_query
from services.availability.engine import Block, Participant, Query, Reason, solve
from services.availability.intervals import Interval, intersect, merge, subtract
from services.availability.loading import CalendarData, CalendarLoader
from services.availability.room_query import EXTRA_ROOMS, load_rooms, pick_rooms
from services.runtime.context import Context, Runtime
from services.runtime.names import parse_calendar

__all__ = ["AvailabilityService"]

_PRIVATE = (ev_pb.VISIBILITY_PRIVATE, ev_pb.VISIBILITY_CONFIDENTIAL)
# The instants a window (widened by its buffers) is clamped to: the ends of
# the Timestamp range, which datetime can still shift by a day.
_EARLIEST_US = -62_135_596_800 * 1_000_000
_LATEST_US = 253_402_300_799 * 1_000_000


def _local(value: int, zone: ZoneInfo) -> datetime_pb2.DateTime:
    t = from_us(value).astimezone(zone)
    return datetime_pb2.DateTime(
        year=t.year, month=t.month, day=t.day, hours=t.hour, minutes=t.minute,
        seconds=t.second, time_zone=datetime_pb2.TimeZone(id=zone.key),
    )  # fmt: skip


class AvailabilityService(av_grpc.AvailabilityServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def _resolve(self, name: str, field: str) -> tuple[str, str]:
        parsed = parse_calendar(name, field)
        _, account_id = self.rt.account(parsed.account, field)  # permission before existence
        return account_id, parsed.calendar

    async def QueryAvailability(
        self, request: av_pb.QueryAvailabilityRequest, context: Context
    ) -> av_pb.QueryAvailabilityResponse:
        limits = check_query(request)
        required_specs = list(request.participants)
        if not required_specs and not request.groups:
            required_specs = [av_pb.Participant(calendars=["accounts/me/calendars/primary"])]
        margin = max(limits.buffer_before, limits.buffer_after)
        window = (
            max(limits.windows[0][0] - margin, _EARLIEST_US),
            min(limits.windows[-1][1] + margin, _LATEST_US),
        )

        loader = CalendarLoader(self.rt, window, with_ids=request.explain)

        async def participant(spec: av_pb.Participant, path: str) -> list[CalendarData]:
            label = spec.label or spec.calendars[0]
            return [
                await loader.add(name, f"{path}.calendars[{i}]", label,
                                 not spec.ignore_working_hours)
                for i, name in enumerate(spec.calendars)
            ]  # fmt: skip

        required_data = [
            await participant(p, f"participants[{i}]") for i, p in enumerate(required_specs)
        ]
        picked: list[rs_pb.Resource] = []
        room_exclusions: list[av_pb.RoomExclusion] = []
        if request.HasField("rooms"):
            picked, room_exclusions = await pick_rooms(self.rt, request.rooms, limits.duration)
        group_data = [
            [
                await participant(p, f"groups[{g}].participants[{i}]")
                for i, p in enumerate(group.participants)
            ]
            for g, group in enumerate(request.groups)
        ]
        await loader.load()
        required = [
            _participant(spec, data, request.explain)
            for spec, data in zip(required_specs, required_data, strict=True)
        ]
        groups = []
        for group, members in zip(request.groups, group_data, strict=True):
            people = zip(group.participants, members, strict=True)
            groups.append(([_participant(p, d, request.explain) for p, d in people],
                           group.minimum_free or 1))  # fmt: skip
        query = Query(
            windows=limits.windows,
            duration=limits.duration,
            increment=limits.increment,
            buffer_before=limits.buffer_before,
            buffer_after=limits.buffer_after,
            max_results=limits.max_results,
            explain=request.explain,
            required=list(required),
            groups=groups,
        )
        if request.HasField("rooms"):
            query = await self._with_rooms(query, request, picked, window)
        result = solve(query)
        zone = ZoneInfo(request.time_zone or "UTC")
        response = av_pb.QueryAvailabilityResponse(truncated=result.truncated)
        if request.explain:
            response.room_exclusions.extend(room_exclusions)
        for slot in result.slots:
            response.available_times.append(
                av_pb.AvailableTime(
                    start_time=timestamp_from_us(slot.start),
                    end_time=timestamp_from_us(slot.end),
                    local_start=_local(slot.start, zone),
                    local_end=_local(slot.end, zone),
                    free_optional=slot.free_optional,
                    free_rooms=slot.free_rooms,
                )
            )
        if result.exclusions:
            titles = await self._titles({r for e in result.exclusions for r in e.reasons})
            for exclusion in result.exclusions:
                response.exclusions.append(
                    av_pb.Exclusion(
                        start_time=timestamp_from_us(exclusion.start),
                        end_time=timestamp_from_us(exclusion.end),
                        reasons=[_reason(r, titles) for r in exclusion.reasons],
                    )
                )
        return response

    async def _with_rooms(
        self, query: Query, request: av_pb.QueryAvailabilityRequest,
        picked: list[rs_pb.Resource], window: Interval,
    ) -> Query:  # fmt: skip
        """The query with its rooms: first the people's slots alone, then the
        rooms' busy time, smallest room first, until those slots have enough."""
        count = request.rooms.count or 1
        wanted: list[Interval] = []
        target = 0
        if not request.explain:
            wanted = [(s.start, s.end) for s in solve(query).slots]
            target = count + EXTRA_ROOMS
        rooms = await load_rooms(
            self.rt, request.rooms, picked, window, query.duration, request.explain, wanted,
            target,
        )  # fmt: skip
        return replace(query, rooms=rooms, room_count=count)

    async def _titles(self, reasons: set[Reason]) -> dict[str, str | None]:
        """Each cited event's title, or None where its details are private."""
        out: dict[str, str | None] = {}
        for reason in reasons:
            if not reason.event or reason.event in out:
                continue
            calendar, _, event_id = reason.event.partition("/events/")
            account_id, calendar_id = await self._resolve(calendar, "calendar")
            zone = ZoneInfo("UTC")
            try:
                connector = await self.rt.connector(account_id, acc_pb.CAPABILITY_EVENTS)
                event = await connector.get_event(account_id, calendar_id, event_id, zone)
            except Exception:  # gone since the query read it: say only "busy"
                out[reason.event] = None
                continue
            out[reason.event] = None if event.visibility in _PRIVATE else event.display_name
        return out

    async def QueryFreeBusy(
        self, request: av_pb.QueryFreeBusyRequest, context: Context
    ) -> av_pb.QueryFreeBusyResponse:
        window = check_free_busy(request)
        loader = CalendarLoader(self.rt, window, details=True)
        loaded = [
            await loader.add(name, f"calendars[{i}]", "", schedules=False)
            for i, name in enumerate(request.calendars)
        ]
        await loader.load()
        response = av_pb.QueryFreeBusyResponse()
        for data in loaded:
            entry = response.calendars.add(calendar=data.name)
            firm = merge((b.start_us, b.end_us) for b in data.blocks if not b.tentative)
            maybe = merge((b.start_us, b.end_us) for b in data.blocks if b.tentative)
            spans = [(s, e, False) for s, e in firm]
            spans += [(s, e, True) for s, e in subtract(maybe, firm)]
            for start, end, tentative in sorted(spans):
                start, end = max(start, window[0]), min(end, window[1])
                previous = entry.busy[-1] if entry.busy else None
                if (
                    previous
                    and previous.tentative == tentative
                    and us_from_timestamp(previous.end_time) >= start
                ):
                    previous.end_time.CopyFrom(
                        timestamp_from_us(max(end, us_from_timestamp(previous.end_time)))
                    )
                elif end > start:
                    entry.busy.append(
                        av_pb.BusyInterval(
                            start_time=timestamp_from_us(start),
                            end_time=timestamp_from_us(end),
                            tentative=tentative,
                        )
                    )
        return response


def _participant(spec: av_pb.Participant, loaded: list[CalendarData], explain: bool) -> Participant:
    label = spec.label or spec.calendars[0]
    spans = loaded[0].spans if len(loaded) == 1 else [s for d in loaded for s in d.spans]
    blocks = _blocks(loaded) if explain else []
    return Participant(label, blocks, _working(loaded), spans)


def _blocks(loaded: Sequence[CalendarData]) -> list[Block]:
    return [
        Block(b.start_us, b.end_us, d.name, f"{d.name}/events/{b.event_id}")
        for d in loaded
        for b in d.blocks
    ]


def _working(loaded: Sequence[CalendarData]) -> list[Interval] | None:
    """Where every calendar of the participant is within working hours."""
    working: list[Interval] | None = None
    for data in loaded:
        if data.working is None:
            continue
        working = data.working if working is None else intersect(working, data.working)
    return working


def _reason(reason: Reason, titles: dict[str, str | None]) -> av_pb.ExclusionReason:
    title = titles.get(reason.event) if reason.event else None
    visible = reason.event and title is not None
    return av_pb.ExclusionReason(
        participant=reason.participant,
        calendar=reason.calendar,
        kind=reason.kind,  # type: ignore[arg-type]
        event=reason.event if visible else "",
        event_display_name=title or "",
    )
