"""ActivityService: the change feed, paginated and as a resumable stream."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import grpc
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import activity_service_pb2_grpc as act_grpc
from almanac.v1 import common_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from connectors.errors import InvalidArgument
from connectors.state.activity_log import (
    ActivityFilter,
    check_resumable,
    decode_cursor,
    encode_cursor,
    latest_cursor,
    prune,
    pruned_through,
    read_after,
)
from services.activity.feed import Feed
from services.runtime.context import Context, Runtime
from services.runtime.errors import BadRequestBuilder, ServiceError
from services.runtime.names import parse_account, parse_calendar, resolve_account_id
from services.runtime.pagination import page_budget
from services.runtime.principal import principal, require_account

__all__ = ["ActivityService"]

MIN_HEARTBEAT = 1.0
MAX_HEARTBEAT = 300.0
PRUNE_EVERY_SECONDS = 60.0


class ActivityService(act_grpc.ActivityServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        settings = rt.settings
        self.feed = Feed(
            rt.store,
            poll_seconds=settings.activity_poll_seconds,
            ring_size=settings.activity_ring_size,
        )
        self._started = False
        self._start_lock = asyncio.Lock()
        self._shutdown = asyncio.Event()
        self._pruner: asyncio.Task[None] | None = None
        self.streams: set[_Stream] = set()  # the open ones, for services.activity.metrics

    async def _ensure_started(self) -> None:
        async with self._start_lock:
            if not self._started:
                await self.feed.start()
                self._pruner = asyncio.create_task(self._prune_forever(), name="activity-prune")
                self._started = True

    async def shutdown(self) -> None:
        """End every stream with UNAVAILABLE after its last delivered activity."""
        self._shutdown.set()
        await self.feed.close()
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner

    async def _prune_forever(self) -> None:
        keep_us = int(self.rt.settings.activity_retention_days * 86_400 * 1_000_000)
        # Often enough that nothing outlives the retention by much more than a
        # quarter of it; rarely enough that the delete costs nothing.
        every = min(PRUNE_EVERY_SECONDS, max(0.25, keep_us / 4e6))
        while True:
            with contextlib.suppress(Exception):
                await prune(self.rt.store, time.time_ns() // 1000 - keep_us)
            await asyncio.sleep(every)

    # -- shared -----------------------------------------------------------

    def _filter(
        self, parent: str, resource_types: list[int], calendar: str
    ) -> tuple[ActivityFilter, frozenset[str] | None]:
        p = principal()
        bad = BadRequestBuilder()
        if parent == "accounts/-":
            accounts = p.accounts
        else:
            account_id = resolve_account_id(parse_account(parent, "parent").account, p, "parent")
            require_account(account_id)
            accounts = frozenset({account_id})
        types: set[str] = set()
        for i, value in enumerate(resource_types):
            if value not in common_pb2.ResourceType.values():
                bad.add(f"resource_types[{i}]", f"unknown value {value}")
            elif value != common_pb2.RESOURCE_TYPE_UNSPECIFIED:
                types.add(common_pb2.ResourceType.Name(value))  # type: ignore[arg-type]
        scope = None
        if calendar:
            name = parse_calendar(calendar, "calendar")
            account_id = resolve_account_id(name.account, p, "calendar")
            require_account(account_id)
            if accounts is not None and account_id not in accounts:
                bad.add("calendar", "must belong to the account named by parent")
            scope = (account_id, name.calendar)
        bad.raise_if_any()
        return ActivityFilter(accounts, frozenset(types), scope), accounts

    # -- ListActivities ---------------------------------------------------

    async def ListActivities(
        self, request: act_pb.ListActivitiesRequest, context: Context
    ) -> act_pb.ListActivitiesResponse:
        where, _ = self._filter(request.parent, list(request.resource_types), request.calendar)
        await self._ensure_started()
        # `cursor` only seeds the first page, so later pages may omit or keep it.
        page_request, digest = self.rt.pages.start(request, ignore=("cursor",))
        if page_request.position is not None:
            position = int(page_request.position)
        elif request.cursor:
            position = decode_cursor(request.cursor)
            await check_resumable(self.rt.store, position)
        else:
            position = await pruned_through(self.rt.store)
        # Read the end of the log first: every row after it commits later, so
        # a short page below proves nothing matching lies in between.
        end = await latest_cursor(self.rt.store)
        rows = [
            r
            for r in await read_after(self.rt.store, position, page_request.size + 1, where)
            if r.cursor <= end
        ]
        page, more = rows[: page_request.size], len(rows) > page_request.size
        activities: list[act_pb.Activity] = []
        budget = page_budget(self.rt.settings)
        for row in page:
            activity = row.activity()
            budget -= activity.ByteSize() + 8
            if budget < 0 and activities:  # a page may not outgrow the message limit
                more = True
                break
            activities.append(activity)
        last = page[len(activities) - 1].cursor if activities else position
        latest = last if more else max(end, position)
        return act_pb.ListActivitiesResponse(
            activities=activities,
            next_page_token=self.rt.pages.encode(str(last), digest) if more else "",
            latest_cursor=encode_cursor(latest),
        )

    # -- StreamActivity ---------------------------------------------------

    async def StreamActivity(  # type: ignore[override]  # writes instead of yielding
        self,
        request: act_pb.StreamActivityRequest,
        context: Context,
    ) -> None:
        where, _ = self._filter(request.parent, list(request.resource_types), request.calendar)
        heartbeat = self.rt.settings.activity_heartbeat_seconds
        if request.HasField("heartbeat_interval"):
            heartbeat = request.heartbeat_interval.ToTimedelta().total_seconds()
            if not MIN_HEARTBEAT <= heartbeat <= MAX_HEARTBEAT:
                raise InvalidArgument(
                    "heartbeat_interval must be between 1 second and 5 minutes",
                    violations=[("heartbeat_interval", "must be 1s to 300s")],
                )
        if request.start_position not in act_pb.StartPosition.values():
            raise InvalidArgument(violations=[("start_position", "unknown value")])
        store = self.rt.store
        await self._ensure_started()
        if request.cursor:
            position = decode_cursor(request.cursor)
            await check_resumable(store, position)
        elif request.start_position == act_pb.START_POSITION_OLDEST:
            position = await pruned_through(store)
        else:
            position = await latest_cursor(store)
        stream = _Stream(self, where, position, heartbeat)
        slow = self.rt.settings.activity_slow_seconds
        loop = asyncio.get_running_loop()
        watchdog = _Watchdog(slow)
        self.streams.add(stream)
        try:
            async for message, cursor in stream.messages():
                # Written here rather than yielded, so a client that stopped
                # reading (its flow-control window full) is noticed.
                watchdog.writing_since = loop.time()
                try:
                    await context.write(message)
                except asyncio.CancelledError:
                    if not watchdog.fired:
                        raise  # the client went away or the server stops: never swallowed
                    _current_task().uncancel()
                    # gRPC still delivers the message it was writing, before
                    # the status: the client resumes after it.
                    stream.position = max(stream.position, cursor)
                    raise stream.end(
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"the subscriber has not read for {slow:g} seconds",
                        "SUBSCRIBER_TOO_SLOW",
                    ) from None
                watchdog.writing_since = None
        finally:
            watchdog.close()
            self.streams.discard(stream)


def _current_task() -> asyncio.Task[object]:
    task = asyncio.current_task()
    assert task is not None
    return task


class _Watchdog:
    """Cancels this stream's write once it has waited ``limit`` seconds.

    One timer per stream, re-armed each period, instead of a timeout per
    message: fan-out writes tens of thousands of messages a second.
    """

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.writing_since: float | None = None
        self.fired = False
        self._task = _current_task()
        self._loop = asyncio.get_running_loop()
        self._timer = self._loop.call_later(limit, self._check)

    def _check(self) -> None:
        now = self._loop.time()
        since = self.writing_since
        if since is not None and now - since >= self.limit:
            self.fired = True
            self._task.cancel()
            return
        wait = self.limit if since is None else self.limit - (now - since)
        self._timer = self._loop.call_later(wait, self._check)

    def close(self) -> None:
        self._timer.cancel()


class _Stream:
    """One subscriber: replay from the store, then follow the shared feed."""

    def __init__(
        self, service: ActivityService, where: ActivityFilter, position: int, heartbeat: float
    ) -> None:
        self.service = service
        self.where = where
        self.position = position
        self.heartbeat = heartbeat

    def end(self, code: grpc.StatusCode, message: str, reason: str) -> ServiceError:
        cursor = encode_cursor(self.position)
        return ServiceError(
            code, f"{message}; resume from cursor {cursor}", reason, {"cursor": cursor}
        )

    async def messages(self) -> AsyncIterator[tuple[act_pb.StreamActivityResponse, int]]:
        """Each message with the cursor a client has passed once it received it."""
        feed = self.service.feed
        store = self.service.rt.store
        shutdown = self.service._shutdown
        following = False
        last_sent = time.monotonic()
        while True:
            if shutdown.is_set() or feed.closed:
                raise self.end(
                    grpc.StatusCode.UNAVAILABLE, "the server is shutting down", "SERVER_SHUTDOWN"
                )
            rows = feed.since(self.position)
            if rows is None:
                if following:
                    raise self.end(
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        "the subscriber fell too far behind the feed",
                        "SUBSCRIBER_TOO_SLOW",
                    )
                # Replaying from the store: retention must not overtake us
                # silently, or the rows it pruned would be a gap.
                await check_resumable(store, self.position)
                rows = await read_after(store, self.position, 500)
                if not rows:  # the feed started after our position: nothing between
                    self.position = max(self.position, feed.floor)
                    continue
            else:
                following = True
            if rows:
                for row in rows:
                    if self.where.matches(row):
                        yield row.message(), row.cursor
                        last_sent = time.monotonic()
                    self.position = row.cursor
                continue
            # Heartbeats are timed from the last message sent, so activity that
            # the filter drops does not silence them.
            remaining = self.heartbeat - (time.monotonic() - last_sent)
            if remaining > 0:
                await feed.wait(self.position, remaining)
                continue
            now = Timestamp()
            now.GetCurrentTime()
            beat = act_pb.Heartbeat(cursor=encode_cursor(self.position), time=now)
            yield act_pb.StreamActivityResponse(heartbeat=beat), self.position
            last_sent = time.monotonic()
