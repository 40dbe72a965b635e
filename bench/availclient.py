"""The gRPC side of the ``availability`` scenario: ``python -m bench.availclient`` (JSON on stdin).

A child process, like `bench.load` and `bench.eventclient`: the bench process
itself makes no gRPC calls. Two modes:

``load``: for every calendar ``CalendarService.CreateCalendar`` (its zone),
``CreateSchedule`` (Monday-Friday, ``work_hours`` local) and one
``ImportCalendar`` of its ICS file, ``import_concurrency`` imports in flight.
Answers the seconds spent and the import counts.

``query``: one untimed ``AvailabilityService.QueryAvailability`` (warm-up),
then ``repeat`` sequential timed ones; each time is the client-side wall
time of the RPC. Answers the times, the slots of the last answer (count,
first and last start) and whether the answers agreed.

Spec, load: ``{"mode": "load", "calendar_target", "token", "account",
"calendars": [{"id", "zone", "ics_path"}], "work_hours": [8, 18],
"import_concurrency"}``. Spec, query: ``{"mode": "query",
"availability_target", "token", "participants": [{"calendar", "label"}],
"window": [start_us, end_us], "duration_min", "increment_min",
"max_results", "repeat"}``. A failed call ends the run with the error on
stderr and exit status 1.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import grpc
from almanac.v1 import availability_service_pb2 as av_pb
from almanac.v1 import availability_service_pb2_grpc as av_grpc
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import calendar_service_pb2_grpc as cal_grpc
from almanac.v1 import common_pb2
from google.api import httpbody_pb2
from google.protobuf import duration_pb2, timestamp_pb2
from google.type import dayofweek_pb2, timeofday_pb2

from bench.child import child_main

__all__ = ["main"]

RPC_TIMEOUT_S = 60.0
IMPORT_TIMEOUT_S = 600.0
# An ICS of 10,000 events is about 2 MB; the contract allows 16 MiB.
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", 64 << 20),
    ("grpc.max_receive_message_length", 64 << 20),
]
ICS_TYPE = "text/calendar; charset=utf-8"
_WEEKDAYS = (
    dayofweek_pb2.MONDAY,
    dayofweek_pb2.TUESDAY,
    dayofweek_pb2.WEDNESDAY,
    dayofweek_pb2.THURSDAY,
    dayofweek_pb2.FRIDAY,
)

Metadata = tuple[tuple[str, str], ...]


def _metadata(spec: dict[str, Any]) -> Metadata:
    return (("authorization", f"Bearer {spec['token']}"),)


def _ts(us: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=us // 1_000_000, nanos=(us % 1_000_000) * 1000)


def _us(ts: timestamp_pb2.Timestamp) -> int:
    return ts.seconds * 1_000_000 + ts.nanos // 1000


def _minutes(n: int) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=60 * int(n))


async def _load(spec: dict[str, Any]) -> dict[str, Any]:
    metadata = _metadata(spec)
    lo, hi = (int(h) for h in spec["work_hours"])
    hours = [
        cal_pb.WeeklyInterval(
            day=day,
            start_time=timeofday_pb2.TimeOfDay(hours=lo),
            end_time=timeofday_pb2.TimeOfDay(hours=hi),
        )
        for day in _WEEKDAYS
    ]
    async with grpc.aio.insecure_channel(spec["calendar_target"], options=CHANNEL_OPTIONS) as ch:
        await asyncio.wait_for(ch.channel_ready(), 10)
        stub = cal_grpc.CalendarServiceStub(ch)
        t0 = time.perf_counter()
        names = []
        for c in spec["calendars"]:
            calendar = await stub.CreateCalendar(
                cal_pb.CreateCalendarRequest(
                    parent=spec["account"],
                    calendar_id=c["id"],
                    calendar=cal_pb.Calendar(display_name=f"bench {c['id']}", time_zone=c["zone"]),
                ),
                metadata=metadata,
                timeout=RPC_TIMEOUT_S,
            )
            await stub.CreateSchedule(
                cal_pb.CreateScheduleRequest(
                    parent=calendar.name,
                    schedule_id="work",
                    schedule=cal_pb.Schedule(display_name="Working hours", weekly_hours=hours),
                ),
                metadata=metadata,
                timeout=RPC_TIMEOUT_S,
            )
            names.append(calendar.name)
        setup_s = time.perf_counter() - t0

        # Read up front: the import times are the RPCs' alone.
        todo = [
            (name, Path(c["ics_path"]).read_bytes())  # noqa: ASYNC240
            for name, c in zip(names, spec["calendars"], strict=True)
        ]
        imports: list[dict[str, Any]] = []

        async def worker() -> None:
            while todo:
                name, data = todo.pop(0)
                request = cal_pb.ImportCalendarRequest(
                    parent=name,
                    ics=httpbody_pb2.HttpBody(content_type=ICS_TYPE, data=data),
                )
                start = time.perf_counter()
                reply = await stub.ImportCalendar(
                    request, metadata=metadata, timeout=IMPORT_TIMEOUT_S
                )
                seconds = time.perf_counter() - start
                imports.append(
                    {
                        "calendar": name,
                        "seconds": seconds,
                        "bytes": len(data),
                        "created": reply.created_count,
                        "exceptions": reply.exception_count,
                    }
                )
                print(
                    f"imported {name}: {reply.created_count} events in {seconds:.2f} s",
                    file=sys.stderr,
                    flush=True,
                )

        t1 = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for _ in range(int(spec.get("import_concurrency", 1))):
                tg.create_task(worker())
        import_s = time.perf_counter() - t1
    return {"names": names, "setup_s": setup_s, "import_s": import_s, "imports": imports}


def _request(spec: dict[str, Any]) -> av_pb.QueryAvailabilityRequest:
    start, end = (int(x) for x in spec["window"])
    return av_pb.QueryAvailabilityRequest(
        participants=[
            av_pb.Participant(calendars=[p["calendar"]], label=p["label"])
            for p in spec["participants"]
        ],
        meeting_duration=_minutes(spec["duration_min"]),
        time_slot_increment=_minutes(spec["increment_min"]),
        time_windows=[common_pb2.TimeRange(start_time=_ts(start), end_time=_ts(end))],
        max_results=int(spec["max_results"]),
        time_zone="UTC",
    )


def _summary(reply: av_pb.QueryAvailabilityResponse) -> dict[str, Any]:
    starts = [_us(t.start_time) for t in reply.available_times]
    return {
        "slots": len(starts),
        "truncated": reply.truncated,
        "first": starts[0] if starts else 0,
        "last": starts[-1] if starts else 0,
        "response_bytes": reply.ByteSize(),
    }


async def _query(spec: dict[str, Any]) -> dict[str, Any]:
    metadata = _metadata(spec)
    request = _request(spec)
    async with grpc.aio.insecure_channel(
        spec["availability_target"], options=CHANNEL_OPTIONS
    ) as ch:
        await asyncio.wait_for(ch.channel_ready(), 10)
        stub = av_grpc.AvailabilityServiceStub(ch)
        t0 = time.perf_counter()
        reply = await stub.QueryAvailability(request, metadata=metadata, timeout=RPC_TIMEOUT_S)
        first_s = time.perf_counter() - t0
        summary = _summary(reply)
        seconds: list[float] = []
        agreed = True
        for _ in range(int(spec["repeat"])):
            t0 = time.perf_counter()
            reply = await stub.QueryAvailability(request, metadata=metadata, timeout=RPC_TIMEOUT_S)
            seconds.append(time.perf_counter() - t0)
            agreed = agreed and _summary(reply) == summary
    return {"warmup_s": first_s, "seconds": seconds, "agreed": agreed, **summary}


def main() -> int:
    return child_main(lambda spec: (_load if spec["mode"] == "load" else _query)(spec))


if __name__ == "__main__":
    sys.exit(main())
