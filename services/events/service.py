"""EventService: events and recurring series on a calendar."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace
from zoneinfo import ZoneInfo

from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from almanac.v1 import event_service_pb2_grpc as ev_grpc
from google.protobuf import empty_pb2

from connectors.base import AccountConnector, Capability, EventQuery, Page, WriteContext
from connectors.ical.customzone import KEY as KEPT_ZONE_KEY
from connectors.recurrence import from_proto, to_proto, to_utc
from connectors.store.rows import us_from_timestamp
from services.events.checks import OUTPUT_ONLY, check_event, merge_custom_properties, normalize
from services.runtime.context import Context, Runtime
from services.runtime.errors import BadRequestBuilder
from services.runtime.names import EVENT_ID_RE, parse_calendar, parse_calendar_child
from services.runtime.pagination import page_budget
from services.runtime.principal import principal
from services.runtime.requests import saturating_add
from services.runtime.validation import apply_update_mask, check_id, check_request_id

__all__ = ["EventService"]

_MUTABLE = tuple(
    f.name
    for f in ev_pb.Event.DESCRIPTOR.fields
    if f.name not in (*OUTPUT_ONLY, "name", "etag", "ical_uid")
)
_MAX_WINDOW = dt.timedelta(days=5 * 366)
_ORDER = {"start", "create_time", "update_time"}


class EventService(ev_grpc.EventServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def _calendar(
        self, name: str, field: str, need: Capability = acc_pb.CAPABILITY_EVENTS
    ) -> tuple[AccountConnector, str, str, cal_pb.Calendar]:
        parsed = parse_calendar(name, field)
        _, account_id = self.rt.account(parsed.account, field)
        connector = await self.rt.connector(account_id, need)
        calendar = await connector.get_calendar(account_id, parsed.calendar)
        return connector, account_id, parsed.calendar, calendar

    async def _event_name(
        self, name: str, field: str, need: Capability = acc_pb.CAPABILITY_EVENTS
    ) -> tuple[AccountConnector, str, str, str, cal_pb.Calendar, ZoneInfo]:
        parsed = parse_calendar_child(name, "events", field)
        connector, account_id, calendar_id, calendar = await self._calendar(
            str(parsed.parent), field, need
        )
        return connector, account_id, calendar_id, parsed.id, calendar, _zone(calendar)

    async def ListEvents(
        self, request: ev_pb.ListEventsRequest, context: Context
    ) -> ev_pb.ListEventsResponse:
        events, account_id, calendar_id, calendar = await self._calendar(request.parent, "parent")
        owner = (await self.rt.profile(account_id)).owner_email if request.attending_only else ""
        query = _list_query(request, calendar, owner)
        page_request, digest = self.rt.pages.start(request)
        page_request = replace(page_request, max_bytes=page_budget(self.rt.settings))
        page = await events.list_events(account_id, calendar_id, query, page_request)
        return ev_pb.ListEventsResponse(
            events=[_shown(e, request.include_raw) for e in page.items],
            next_page_token=self.rt.pages.next_token(page, digest),
            total_size=page.total_size or 0,
        )

    async def GetEvent(self, request: ev_pb.GetEventRequest, context: Context) -> ev_pb.Event:
        events, account_id, calendar_id, event_id, _, zone = await self._event_name(
            request.name, "name"
        )
        if request.instance_index < 0:
            bad = BadRequestBuilder()
            bad.add("instance_index", "must be 1 or more (0: the event itself)")
            bad.raise_if_any()
        event = await events.get_event(
            account_id, calendar_id, event_id, zone, request.instance_index
        )
        return _shown(event, request.include_raw)

    async def CreateEvent(self, request: ev_pb.CreateEventRequest, context: Context) -> ev_pb.Event:
        events, account_id, calendar_id, calendar = await self._calendar(
            request.parent, "parent", acc_pb.CAPABILITY_EVENT_WRITE
        )
        bad = BadRequestBuilder()
        if not request.HasField("event"):
            bad.add("event", "is required")
        event = ev_pb.Event()
        event.CopyFrom(request.event)
        for field in OUTPUT_ONLY:
            event.ClearField(field)  # type: ignore[arg-type]
        check_event(bad, event, calendar)
        check_id(bad, "event_id", request.event_id, EVENT_ID_RE)
        check_request_id(bad, "request_id", request.request_id)
        bad.raise_if_any()
        normalize(event, calendar, create=True)
        _fill_people(event, await self.rt.profile(account_id), principal().token_id)
        event_id = request.event_id or _new_event_id()

        async def create(ctx: WriteContext) -> ev_pb.Event:
            return await events.create_event(account_id, calendar_id, event, event_id, ctx)

        created = await self.rt.idempotent(request, "CreateEvent", ev_pb.Event, create)
        return _shown(created, include_raw=True)

    async def UpdateEvent(self, request: ev_pb.UpdateEventRequest, context: Context) -> ev_pb.Event:
        events, account_id, calendar_id, event_id, calendar, zone = await self._event_name(
            request.event.name, "event.name", acc_pb.CAPABILITY_EVENT_WRITE
        )
        bad = BadRequestBuilder()
        apply_update_mask(
            ev_pb.Event(), request.event, request.update_mask,
            mutable=_MUTABLE, output_only=OUTPUT_ONLY, bad=bad,
        )  # fmt: skip
        if request.scope not in ev_pb.RecurrenceScope.values():
            bad.add("scope", "unknown value")
        bad.raise_if_any()
        patch = request.event
        mask = request.update_mask

        def apply(current: ev_pb.Event) -> tuple[ev_pb.Event, list[str]]:
            updated = ev_pb.Event()
            updated.CopyFrom(current)
            problems = BadRequestBuilder()
            changed = apply_update_mask(
                updated, patch, mask, mutable=_MUTABLE, output_only=OUTPUT_ONLY, bad=problems
            )
            if "custom_properties" in changed or (
                "custom_properties" in mask.paths and patch.custom_properties
            ):
                merge_custom_properties(current, patch, updated)
            if "end" not in changed and "start" in changed and not patch.HasField("end"):
                # Moving an event keeps its length; switching between timed and
                # all-day takes the default end of the new kind instead.
                updated.ClearField("end")
                shifted = _shifted_end(current, updated)
                if shifted is not None:
                    updated.end.CopyFrom(shifted)
            check_event(problems, updated, calendar)
            problems.raise_if_any()
            normalize(updated, calendar, create=False)
            if _drop_kept_zone(current, updated) and "custom_properties" not in changed:
                changed = [*changed, "custom_properties"]
            changed = [p for p in changed if _differs(current, updated, p)]
            return updated, changed

        updated = await events.update_event(
            account_id, calendar_id, event_id, apply, patch.etag, request.scope,
            WriteContext(principal().token_id), zone,
        )  # fmt: skip
        return _shown(updated, include_raw=False)

    async def DeleteEvent(
        self, request: ev_pb.DeleteEventRequest, context: Context
    ) -> empty_pb2.Empty:
        events, account_id, calendar_id, event_id, _, zone = await self._event_name(
            request.name, "name", acc_pb.CAPABILITY_EVENT_WRITE
        )
        if request.scope not in ev_pb.RecurrenceScope.values():
            bad = BadRequestBuilder()
            bad.add("scope", "unknown value")
            bad.raise_if_any()
        await events.delete_event(
            account_id, calendar_id, event_id, request.etag, request.scope,
            WriteContext(principal().token_id), zone,
        )  # fmt: skip
        return empty_pb2.Empty()

    async def ListEventInstances(
        self, request: ev_pb.ListEventInstancesRequest, context: Context
    ) -> ev_pb.ListEventInstancesResponse:
        events, account_id, calendar_id, event_id, _, zone = await self._event_name(
            request.name, "name"
        )
        master = await events.get_event(account_id, calendar_id, event_id, zone)
        if master.recurrence_type != ev_pb.RECURRENCE_TYPE_MASTER:
            bad = BadRequestBuilder()
            bad.add("name", "must name a recurring series")
            bad.raise_if_any()
        start = request.start_time.ToDatetime(dt.UTC) if request.HasField("start_time") else None
        end = request.end_time.ToDatetime(dt.UTC) if request.HasField("end_time") else None
        _check_window(start, end, "end_time")
        if end is None:
            # An endless series stops at 5 years (or 50,000 instances) instead of failing.
            first = to_utc(from_proto(master.start), zone)
            end = saturating_add(max(start or first, first), _MAX_WINDOW)
        query = EventQuery(
            window_start=start,
            window_end=end,
            zone=zone,
            show_deleted=request.show_deleted,
            only_series=event_id,
            truncate=True,
        )
        page_request, digest = self.rt.pages.start(request)
        page_request = replace(page_request, max_bytes=page_budget(self.rt.settings))
        page: Page[ev_pb.Event] = await events.list_events(
            account_id, calendar_id, query, page_request
        )
        return ev_pb.ListEventInstancesResponse(
            events=[_shown(e, False) for e in page.items],
            next_page_token=self.rt.pages.next_token(page, digest),
        )


def _drop_kept_zone(current: ev_pb.Event, updated: ev_pb.Event) -> bool:
    """An imported file's own VTIMEZONE describes the start's old zone only."""
    if current.start.time_zone == updated.start.time_zone:
        return False
    kept = [p for p in updated.custom_properties if p.key != KEPT_ZONE_KEY]
    if len(kept) == len(updated.custom_properties):
        return False
    del updated.custom_properties[:]
    updated.custom_properties.extend(kept)
    return True


def _fill_people(event: ev_pb.Event, account: acc_pb.Account, token: str) -> None:
    """Kloudless defaults: the organizer is the account's owner unless given;
    the creator is who made the event (the token, and the owner's address)."""
    owner = ev_pb.Person(email=account.owner_email, display_name=account.display_name)
    if account.owner_email and not event.HasField("organizer"):
        event.organizer.CopyFrom(owner)
    event.creator.CopyFrom(ev_pb.Person(id=token, email=account.owner_email))


def _zone(calendar: cal_pb.Calendar) -> ZoneInfo:
    return ZoneInfo(calendar.time_zone or "UTC")


def _new_event_id() -> str:
    return uuid.uuid4().hex


def _shown(event: ev_pb.Event, include_raw: bool) -> ev_pb.Event:
    if not include_raw:
        event.ClearField("raw")
    return event


def _differs(a: ev_pb.Event, b: ev_pb.Event, path: str) -> bool:
    field = ev_pb.Event.DESCRIPTOR.fields_by_name[path]
    if field.is_repeated:
        return list(getattr(a, path)) != list(getattr(b, path))
    if field.message_type is not None:
        has_a, has_b = a.HasField(path), b.HasField(path)  # type: ignore[arg-type]
        return bool(has_a != has_b or getattr(a, path) != getattr(b, path))
    return bool(getattr(a, path) != getattr(b, path))


def _shifted_end(current: ev_pb.Event, updated: ev_pb.Event) -> common_pb2.EventTime | None:
    """The old duration from the new start; None when the kind of time changed."""
    if current.start.WhichOneof("value") != updated.start.WhichOneof("value"):
        return None
    old_start, old_end = from_proto(current.start), from_proto(current.end)
    end = to_proto(from_proto(updated.start) + (old_end - old_start))
    if end.WhichOneof("value") == "date_time":
        end.time_zone = current.end.time_zone or updated.start.time_zone
    return end


def _check_window(start: dt.datetime | None, end: dt.datetime | None, field: str) -> None:
    if start is not None and end is not None:
        bad = BadRequestBuilder()
        if end <= start:
            bad.add(field, "must be after start_time")
        elif end - start > _MAX_WINDOW:
            bad.add(field, "the range may span at most 5 years")
        bad.raise_if_any()


def _list_query(
    request: ev_pb.ListEventsRequest, calendar: cal_pb.Calendar, owner_email: str = ""
) -> EventQuery:
    bad = BadRequestBuilder()
    if request.attending_only and not owner_email:
        bad.add("attending_only", "the account has no owner_email to match attendees with")
    zone = _zone(calendar)
    instances = request.expansion != ev_pb.EXPANSION_MASTERS
    start = request.start_time.ToDatetime(dt.UTC) if request.HasField("start_time") else None
    end = request.end_time.ToDatetime(dt.UTC) if request.HasField("end_time") else None
    order, _, direction = request.order_by.strip().partition(" ")
    order = order or "start"
    if order not in _ORDER or direction.strip() not in ("", "desc", "asc"):
        bad.add("order_by", "must be start, create_time or update_time, optionally with ` desc`")
    if request.expansion not in ev_pb.Expansion.values():
        bad.add("expansion", "unknown value")
    if request.HasField("month"):
        if start or end or request.upcoming:
            bad.add("month", "give a month, an upcoming flag or a time range, not several")
        m = request.month
        # Years 2-9998: the month's bounds in any zone stay inside datetime's range.
        if not (1 <= m.month <= 12 and 2 <= m.year <= 9998 and m.day == 0):
            bad.add("month", "must be a year and month with day 0, e.g. {year: 2026, month: 11}")
        else:
            first = dt.datetime(m.year, m.month, 1, tzinfo=zone)
            nxt = dt.datetime(m.year + m.month // 12, m.month % 12 + 1, 1, tzinfo=zone)
            start, end = first.astimezone(dt.UTC), nxt.astimezone(dt.UTC)
    elif request.upcoming:
        if start:
            bad.add("upcoming", "give upcoming or start_time, not both")
        start = dt.datetime.now(dt.UTC)
        order, direction = "start", ""
    if start is None and end is None and not request.upcoming and not request.HasField("month"):
        today = dt.datetime.now(zone)
        first = dt.datetime(today.year, today.month, 1, tzinfo=zone)
        nxt = dt.datetime(today.year + today.month // 12, today.month % 12 + 1, 1, tzinfo=zone)
        start, end = first.astimezone(dt.UTC), nxt.astimezone(dt.UTC)
    if instances:
        if start is not None and end is None:
            end = saturating_add(start, dt.timedelta(days=366))
        elif end is not None and start is None:
            start = saturating_add(end, -dt.timedelta(days=366))
    bad.raise_if_any()
    if instances:
        _check_window(start, end, "end_time")
    elif start and end and end <= start:
        _check_window(start, end, "end_time")
    updated_after = None
    if request.HasField("updated_after"):
        ts = request.updated_after
        updated_after = us_from_timestamp(ts)
    return EventQuery(
        window_start=start,
        window_end=end,
        zone=zone,
        instances=instances,
        order_field=order,
        descending=direction.strip() == "desc",
        updated_after_us=updated_after,
        show_deleted=request.show_deleted,
        category=request.category,
        event_type=request.event_type,
        attendee_email=request.attendee_email.lower(),
        attending_email=owner_email.lower() if request.attending_only else "",
        text=request.query.lower(),
    )
