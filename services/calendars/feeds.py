"""Calendar subscribers and their public feeds (part of CalendarService).

A feed is fetched without a token: its secret is the credential. The answer
carries the document's entity tag as ``etag`` response metadata, and when the
client already holds it, an empty body with ``x-http-code: 304`` (the
grpc-gateway convention for a non-200 success), so calendar clients polling
every few minutes cost one indexed lookup and no transfer.
"""

from __future__ import annotations

import hashlib

from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from google.api import httpbody_pb2

from services.calendars.ics import export_ics
from services.runtime.context import Context, Runtime
from services.runtime.errors import BadRequestBuilder
from services.runtime.names import parse_calendar, parse_calendar_child
from services.runtime.validation import check_length

__all__ = ["ICS_CONTENT_TYPE", "FeedRpcs"]

ICS_CONTENT_TYPE = "text/calendar; charset=utf-8"


class FeedRpcs:
    """The subscriber RPCs; mixed into CalendarService."""

    rt: Runtime

    async def CreateCalendarSubscriber(
        self, request: cal_pb.CreateCalendarSubscriberRequest, context: Context
    ) -> cal_pb.CalendarSubscriber:
        parent = parse_calendar(request.parent, "parent")
        _, account_id = self.rt.account(parent.account, "parent")
        bad = BadRequestBuilder()
        check_length(bad, "subscriber.display_name", request.subscriber.display_name, 256)
        bad.raise_if_any()
        connector = await self.rt.connector(account_id, acc_pb.CAPABILITY_ICS_EXPORT)
        calendar = await connector.get_calendar(account_id, parent.calendar)
        calendar_id = calendar.name.rsplit("/", 1)[1]  # `primary` resolved
        return await self.rt.subscribers.create(account_id, calendar_id, request.subscriber)

    async def ListCalendarSubscribers(
        self, request: cal_pb.ListCalendarSubscribersRequest, context: Context
    ) -> cal_pb.ListCalendarSubscribersResponse:
        parent = parse_calendar(request.parent, "parent")
        _, account_id = self.rt.account(parent.account, "parent")
        page_request, digest = self.rt.pages.start(request)
        page = await self.rt.subscribers.list(account_id, parent.calendar, page_request)
        return cal_pb.ListCalendarSubscribersResponse(
            subscribers=page.items, next_page_token=self.rt.pages.next_token(page, digest)
        )

    async def BlockCalendarSubscriber(
        self, request: cal_pb.BlockCalendarSubscriberRequest, context: Context
    ) -> cal_pb.CalendarSubscriber:
        parsed = parse_calendar_child(request.name, "subscribers", "name")
        calendar = parse_calendar(str(parsed.parent), "name")
        _, account_id = self.rt.account(calendar.account)
        return await self.rt.subscribers.block(account_id, calendar.calendar, parsed.id)

    async def GetCalendarFeed(
        self, request: cal_pb.GetCalendarFeedRequest, context: Context
    ) -> httpbody_pb2.HttpBody:
        if not request.feed_token:
            bad = BadRequestBuilder()
            bad.add("feed_token", "is required")
            bad.raise_if_any()
        feed = await self.rt.subscribers.open(request.feed_token)
        connector = await self.rt.connector(feed.account, acc_pb.CAPABILITY_ICS_EXPORT)
        calendar = await connector.get_calendar(feed.account, feed.calendar)
        data = await export_ics(connector, feed.account, calendar)
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        held = {t.strip() for t in request.if_none_match.split(",")}
        if etag in held or "*" in held:
            await context.send_initial_metadata((("etag", etag), ("x-http-code", "304")))
            return httpbody_pb2.HttpBody(content_type=ICS_CONTENT_TYPE)
        await context.send_initial_metadata((("etag", etag),))
        return httpbody_pb2.HttpBody(content_type=ICS_CONTENT_TYPE, data=data)
