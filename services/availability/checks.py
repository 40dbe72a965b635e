"""Validation of availability requests (limits in the AvailabilityService comment)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from almanac.v1 import availability_service_pb2 as av_pb
from google.protobuf.duration_pb2 import Duration

from connectors.store.rows import us_from_timestamp
from services.availability.intervals import Interval
from services.availability.room_query import DEFAULT_INCREMENT, check_rooms
from services.runtime.errors import BadRequestBuilder
from services.runtime.validation import check_time_zone

__all__ = ["Limits", "check_free_busy", "check_query"]

MINUTE = 60 * 1_000_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
MAX_CALENDARS = 50
MAX_WINDOWS = 100
MAX_SPAN = 90 * DAY
MAX_BUFFER = 4 * HOUR
MAX_RESULTS = 1000
DEFAULT_RESULTS = 100
MIN_SECONDS = -62_135_596_800  # 0001-01-01, the Timestamp range
MAX_SECONDS = 253_402_300_799  # 9999-12-31


@dataclass(frozen=True)
class Limits:
    windows: list[Interval]  # sorted, checked disjoint
    duration: int
    increment: int
    buffer_before: int
    buffer_after: int
    max_results: int


def _duration(
    bad: BadRequestBuilder, field: str, value: Duration, lo: int, hi: int, *, zero_ok: bool = False
) -> int:
    us = int(value.ToMicroseconds())
    if zero_ok and us == 0:
        return 0
    if not lo <= us <= hi:
        bad.add(field, f"must be between {lo // MINUTE} and {hi // MINUTE} minutes")
    elif us % MINUTE:
        bad.add(field, "must be whole minutes")
    return us


def _ts_ok(seconds: int) -> bool:
    return MIN_SECONDS <= seconds <= MAX_SECONDS


def check_query(request: av_pb.QueryAvailabilityRequest) -> Limits:
    bad = BadRequestBuilder()
    if not request.HasField("meeting_duration"):
        bad.add("meeting_duration", "is required (for example PT1H)")
    duration = _duration(bad, "meeting_duration", request.meeting_duration, MINUTE, DAY)
    increment = _duration(
        bad, "time_slot_increment", request.time_slot_increment, MINUTE, DAY, zero_ok=True
    )
    before = _duration(bad, "buffer_before", request.buffer_before, 0, MAX_BUFFER, zero_ok=True)
    after = _duration(bad, "buffer_after", request.buffer_after, 0, MAX_BUFFER, zero_ok=True)
    if not 0 <= request.max_results <= MAX_RESULTS:
        bad.add("max_results", f"must be between 0 and {MAX_RESULTS} (0: {DEFAULT_RESULTS})")
    check_time_zone(bad, "time_zone", request.time_zone)
    windows: list[Interval] = []
    if not request.time_windows:
        bad.add("time_windows", "at least one window is required")
    if len(request.time_windows) > MAX_WINDOWS:
        bad.add("time_windows", f"at most {MAX_WINDOWS} windows")
    for i, window in enumerate(request.time_windows):
        s, e = window.start_time, window.end_time
        if not (_ts_ok(s.seconds) and _ts_ok(e.seconds)):
            bad.add(f"time_windows[{i}]", "times must be between years 1 and 9999")
            continue
        start = us_from_timestamp(s)
        end = us_from_timestamp(e)
        if end <= start:
            bad.add(f"time_windows[{i}].end_time", "must be after start_time")
        else:
            windows.append((start, end))
    windows.sort()
    for (_, prev_end), (start, _) in itertools.pairwise(windows):
        if start < prev_end:
            bad.add("time_windows", "windows must not overlap")
            break
    if windows:
        if windows[-1][1] - windows[0][0] > MAX_SPAN:
            bad.add("time_windows", "from the first start to the last end at most 90 days")
        if duration and all(e - s < duration for s, e in windows):
            bad.add("meeting_duration", "is longer than every time window")
    calendars = 0
    for i, p in enumerate(request.participants):
        calendars += _check_participant(bad, p, f"participants[{i}]")
    for g, group in enumerate(request.groups):
        if not group.participants:
            bad.add(f"groups[{g}].participants", "at least one participant is required")
        for i, p in enumerate(group.participants):
            calendars += _check_participant(bad, p, f"groups[{g}].participants[{i}]")
        if not 0 <= group.minimum_free <= len(group.participants):
            bad.add(f"groups[{g}].minimum_free", "must be between 1 and the number of members")
    if calendars > MAX_CALENDARS:
        bad.add("participants", f"at most {MAX_CALENDARS} calendars in all")
    if request.HasField("rooms"):
        check_rooms(bad, request.rooms)
        increment = increment or DEFAULT_INCREMENT
    bad.raise_if_any()
    return Limits(
        windows, duration, increment, before, after, request.max_results or DEFAULT_RESULTS
    )


def _check_participant(bad: BadRequestBuilder, p: av_pb.Participant, path: str) -> int:
    if not p.calendars:
        bad.add(f"{path}.calendars", "at least one calendar is required")
    if len(p.label) > 256:
        bad.add(f"{path}.label", "at most 256 characters")
    return len(p.calendars)


def check_free_busy(request: av_pb.QueryFreeBusyRequest) -> Interval:
    bad = BadRequestBuilder()
    if not request.calendars:
        bad.add("calendars", "at least one calendar is required")
    if len(request.calendars) > MAX_CALENDARS:
        bad.add("calendars", f"at most {MAX_CALENDARS} calendars")
    r = request.time_range
    start = us_from_timestamp(r.start_time)
    end = us_from_timestamp(r.end_time)
    if not request.HasField("time_range"):
        bad.add("time_range", "is required")
    elif not (_ts_ok(r.start_time.seconds) and _ts_ok(r.end_time.seconds)):
        bad.add("time_range", "times must be between years 1 and 9999")
    elif end <= start:
        bad.add("time_range.end_time", "must be after start_time")
    elif end - start > MAX_SPAN:
        bad.add("time_range", "at most 90 days")
    bad.raise_if_any()
    return (start, end)
