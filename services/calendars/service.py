"""CalendarService: calendars, schedules, time zones, ICS export and import."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import calendar_service_pb2_grpc as cal_grpc
from google.api import httpbody_pb2
from google.protobuf import empty_pb2
from google.protobuf.field_mask_pb2 import FieldMask

from connectors.base import PRIMARY_ID, Page, PageRequest, WriteContext
from connectors.ical import from_ics
from connectors.store.rows import new_id
from services.calendars.checks import check_calendar, check_schedule
from services.calendars.feeds import ICS_CONTENT_TYPE, FeedRpcs
from services.calendars.ics import export_ics, header_of, storable, with_header
from services.calendars.timezones import time_zones
from services.runtime.context import Context, Runtime
from services.runtime.errors import BadRequestBuilder
from services.runtime.names import CHILD_ID_RE, parse_account, parse_calendar, parse_calendar_child
from services.runtime.validation import check_id, check_request_id, masked_update

__all__ = ["CalendarService"]

# The range of google.protobuf.Timestamp (AIP-142): 0001-01-01 to 9999-12-31.
MIN_SECONDS = -62_135_596_800
MAX_SECONDS = 253_402_300_799

_CAL_MUTABLE = (
    "display_name",
    "description",
    "location",
    "time_zone",
    "color",
    "event_types",
    "default_reminders",
    "raw",
)
_CAL_OUTPUT = ("primary", "schedules", "create_time", "update_time")
_SCH_MUTABLE = (
    "display_name",
    "time_zone",
    "weekly_hours",
    "date_overrides",
    "start_date",
    "end_date",
    "disabled",
)
_SCH_OUTPUT = ("create_time", "update_time")


def _replaces_name(mask: FieldMask) -> bool:
    """Whether an update sets ``display_name``, which must then not be empty."""
    return "display_name" in mask.paths or "*" in mask.paths


def _shown(calendar: cal_pb.Calendar, include_raw: bool) -> cal_pb.Calendar:
    if not include_raw:
        calendar.ClearField("raw")
    return calendar


class CalendarService(FeedRpcs, cal_grpc.CalendarServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def _with_schedules(self, account_id: str, calendars: Sequence[cal_pb.Calendar]) -> None:
        connector = await self.rt.connector(account_id, acc_pb.CAPABILITY_SCHEDULES)
        for cal in calendars:
            cal_id = cal.name.rsplit("/", 1)[1]
            page = await connector.list_schedules(account_id, cal_id, PageRequest(1000))
            cal.schedules.extend(page.items)

    # -- calendars --------------------------------------------------------

    async def ListCalendars(
        self, request: cal_pb.ListCalendarsRequest, context: Context
    ) -> cal_pb.ListCalendarsResponse:
        _, account_id = self.rt.account(parse_account(request.parent, "parent").account, "parent")
        page_request, digest = self.rt.pages.start(request)
        connector = await self.rt.connector(account_id, acc_pb.CAPABILITY_CALENDARS)
        page = await connector.list_calendars(account_id, page_request)
        items = [_shown(c, request.include_raw) for c in page.items]
        if request.include_schedules:
            await self._with_schedules(account_id, items)
        return cal_pb.ListCalendarsResponse(
            calendars=items,
            next_page_token=self.rt.pages.next_token(page, digest),
            total_size=page.total_size or 0,
        )

    async def GetCalendar(
        self, request: cal_pb.GetCalendarRequest, context: Context
    ) -> cal_pb.Calendar:
        name = parse_calendar(request.name)
        _, account_id = self.rt.account(name.account)
        connector = await self.rt.connector(account_id, acc_pb.CAPABILITY_CALENDARS)
        calendar = _shown(
            await connector.get_calendar(account_id, name.calendar), request.include_raw
        )
        if request.include_schedules:
            await self._with_schedules(account_id, [calendar])
        return calendar

    async def CreateCalendar(
        self, request: cal_pb.CreateCalendarRequest, context: Context
    ) -> cal_pb.Calendar:
        _, account_id = self.rt.account(parse_account(request.parent, "parent").account, "parent")
        bad = BadRequestBuilder()
        check_calendar(bad, request.calendar, "calendar", create=True)
        check_id(bad, "calendar_id", request.calendar_id, CHILD_ID_RE)
        if request.calendar_id == PRIMARY_ID:
            bad.add("calendar_id", "`primary` is reserved for the account's primary calendar")
        check_request_id(bad, "request_id", request.request_id)
        bad.raise_if_any()
        connector = await self.rt.connector(account_id, acc_pb.CAPABILITY_CALENDAR_WRITE)
        calendar = cal_pb.Calendar()
        calendar.CopyFrom(request.calendar)
        if not calendar.time_zone:
            account = await self.rt.registry.get_account(account_id)
            calendar.time_zone = account.default_time_zone or "UTC"
        calendar_id = request.calendar_id or new_id()

        async def create(ctx: WriteContext) -> cal_pb.Calendar:
            return await connector.create_calendar(account_id, calendar, calendar_id, ctx)

        created = await self.rt.idempotent(request, "CreateCalendar", cal_pb.Calendar, create)
        return _shown(created, include_raw=True)

    async def UpdateCalendar(
        self, request: cal_pb.UpdateCalendarRequest, context: Context
    ) -> cal_pb.Calendar:
        name = parse_calendar(request.calendar.name, "calendar.name")
        p, account_id = self.rt.account(name.account, "calendar.name")
        bad = BadRequestBuilder()
        check_calendar(
            bad, request.calendar, "calendar", create=_replaces_name(request.update_mask)
        )
        apply = masked_update(
            bad,
            request.calendar,
            request.update_mask,
            mutable=_CAL_MUTABLE,
            output_only=_CAL_OUTPUT,
            keep_if_empty=("time_zone",),
        )
        bad.raise_if_any()
        connector = await self.rt.connector(account_id, acc_pb.CAPABILITY_CALENDAR_WRITE)
        updated = await connector.update_calendar(
            account_id, name.calendar, apply, request.calendar.etag, WriteContext(p.token_id)
        )
        return _shown(updated, include_raw=False)

    async def DeleteCalendar(
        self, request: cal_pb.DeleteCalendarRequest, context: Context
    ) -> empty_pb2.Empty:
        name = parse_calendar(request.name)
        p, account_id = self.rt.account(name.account)
        connector = await self.rt.connector(account_id, acc_pb.CAPABILITY_CALENDAR_WRITE)
        await connector.delete_calendar(
            account_id, name.calendar, request.etag, WriteContext(p.token_id)
        )
        return empty_pb2.Empty()

    # -- schedules --------------------------------------------------------

    async def ListSchedules(
        self, request: cal_pb.ListSchedulesRequest, context: Context
    ) -> cal_pb.ListSchedulesResponse:
        parent = parse_calendar(request.parent, "parent")
        _, account_id = self.rt.account(parent.account, "parent")
        page_request, digest = self.rt.pages.start(request)
        connector = await self.rt.connector(account_id, acc_pb.CAPABILITY_SCHEDULES)
        page = await connector.list_schedules(account_id, parent.calendar, page_request)
        return cal_pb.ListSchedulesResponse(
            schedules=page.items,
            next_page_token=self.rt.pages.next_token(page, digest),
            total_size=page.total_size or 0,
        )

    async def GetSchedule(
        self, request: cal_pb.GetScheduleRequest, context: Context
    ) -> cal_pb.Schedule:
        name = parse_calendar_child(request.name, "schedules")
        _, account_id = self.rt.account(name.account)
        connector = await self.rt.connector(account_id, acc_pb.CAPABILITY_SCHEDULES)
        return await connector.get_schedule(account_id, name.calendar, name.id)

    async def CreateSchedule(
        self, request: cal_pb.CreateScheduleRequest, context: Context
    ) -> cal_pb.Schedule:
        parent = parse_calendar(request.parent, "parent")
        _, account_id = self.rt.account(parent.account, "parent")
        bad = BadRequestBuilder()
        check_schedule(bad, request.schedule, "schedule", create=True)
        check_id(bad, "schedule_id", request.schedule_id, CHILD_ID_RE)
        check_request_id(bad, "request_id", request.request_id)
        bad.raise_if_any()
        connector = await self.rt.connector(account_id, acc_pb.CAPABILITY_SCHEDULES)
        schedule = cal_pb.Schedule()
        schedule.CopyFrom(request.schedule)
        if not schedule.time_zone:
            calendar = await connector.get_calendar(account_id, parent.calendar)
            schedule.time_zone = calendar.time_zone or "UTC"
        schedule_id = request.schedule_id or new_id()

        async def create(ctx: WriteContext) -> cal_pb.Schedule:
            return await connector.create_schedule(
                account_id, parent.calendar, schedule, schedule_id, ctx
            )

        return await self.rt.idempotent(request, "CreateSchedule", cal_pb.Schedule, create)

    async def UpdateSchedule(
        self, request: cal_pb.UpdateScheduleRequest, context: Context
    ) -> cal_pb.Schedule:
        name = parse_calendar_child(request.schedule.name, "schedules", "schedule.name")
        p, account_id = self.rt.account(name.account, "schedule.name")
        bad = BadRequestBuilder()
        check_schedule(
            bad, request.schedule, "schedule", create=_replaces_name(request.update_mask)
        )
        apply = masked_update(
            bad,
            request.schedule,
            request.update_mask,
            mutable=_SCH_MUTABLE,
            output_only=_SCH_OUTPUT,
            keep_if_empty=("time_zone",),
        )
        bad.raise_if_any()
        connector = await self.rt.connector(account_id, acc_pb.CAPABILITY_SCHEDULES)
        return await connector.update_schedule(
            account_id,
            name.calendar,
            name.id,
            apply,
            request.schedule.etag,
            WriteContext(p.token_id),
        )

    async def DeleteSchedule(
        self, request: cal_pb.DeleteScheduleRequest, context: Context
    ) -> empty_pb2.Empty:
        name = parse_calendar_child(request.name, "schedules")
        p, account_id = self.rt.account(name.account)
        connector = await self.rt.connector(account_id, acc_pb.CAPABILITY_SCHEDULES)
        await connector.delete_schedule(
            account_id, name.calendar, name.id, request.etag, WriteContext(p.token_id)
        )
        return empty_pb2.Empty()

    # -- time zones, ICS --------------------------------------------------

    async def ListTimeZones(
        self, request: cal_pb.ListTimeZonesRequest, context: Context
    ) -> cal_pb.ListTimeZonesResponse:
        at = dt.datetime.now(dt.UTC)
        if request.HasField("time"):
            if not MIN_SECONDS <= request.time.seconds <= MAX_SECONDS:
                bad = BadRequestBuilder()
                bad.add("time", "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z")
                bad.raise_if_any()
            at = request.time.ToDatetime(dt.UTC)
        page_request, digest = self.rt.pages.start(request)
        begin = int(page_request.position or 0)
        zones = time_zones(request.query, at)
        end = begin + page_request.size
        page = Page(zones[begin:end], str(end) if end < len(zones) else None, len(zones))
        return cal_pb.ListTimeZonesResponse(
            time_zones=page.items,
            next_page_token=self.rt.pages.next_token(page, digest),
            total_size=len(zones),
        )

    async def ExportCalendar(
        self, request: cal_pb.ExportCalendarRequest, context: Context
    ) -> httpbody_pb2.HttpBody:
        name = parse_calendar(request.name)
        _, account_id = self.rt.account(name.account)
        connector = await self.rt.connector(account_id, acc_pb.CAPABILITY_ICS_EXPORT)
        calendar = await connector.get_calendar(account_id, name.calendar)
        time_range = request.time_range if request.HasField("time_range") else None
        return httpbody_pb2.HttpBody(
            content_type=ICS_CONTENT_TYPE,
            data=await export_ics(connector, account_id, calendar, time_range),
        )

    async def ImportCalendar(
        self, request: cal_pb.ImportCalendarRequest, context: Context
    ) -> cal_pb.ImportCalendarResponse:
        parent = parse_calendar(request.parent, "parent")
        _, account_id = self.rt.account(parent.account, "parent")
        bad = BadRequestBuilder()
        check_request_id(bad, "request_id", request.request_id)
        bad.raise_if_any()
        connector = await self.rt.connector(account_id, acc_pb.CAPABILITY_ICS_IMPORT)
        calendar = await connector.get_calendar(account_id, parent.calendar)
        parsed = from_ics(request.ics.data, default_zone=calendar.time_zone or "UTC")
        warnings = [cal_pb.ImportWarning(line=w.line, message=w.message) for w in parsed.warnings]
        events, skipped = storable(parsed.events, calendar, warnings)
        exceptions, _ = storable(
            [e for e in parsed.exceptions if e.ical_uid not in skipped], calendar, warnings
        )
        counted = parsed.skipped_count + len(skipped)
        if request.validate_only:
            return cal_pb.ImportCalendarResponse(
                created_count=len(events),
                exception_count=len(exceptions),
                skipped_count=counted,
                warnings=warnings,
            )

        async def run(ctx: WriteContext) -> cal_pb.ImportCalendarResponse:
            counts = await connector.import_events(
                account_id, parent.calendar, events, exceptions, ctx
            )
            if parsed.header and header_of(calendar) != parsed.header:
                await connector.update_calendar(
                    account_id, parent.calendar, with_header(parsed.header), "", ctx
                )
            return cal_pb.ImportCalendarResponse(
                created_count=counts.created,
                updated_count=counts.updated,
                exception_count=counts.exceptions,
                skipped_count=counted,
                warnings=warnings,
            )

        return await self.rt.idempotent(
            request, "ImportCalendar", cal_pb.ImportCalendarResponse, run
        )
