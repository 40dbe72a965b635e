"""The gRPC side of the ``rooms`` scenario: ``python -m bench.roomclient`` (JSON on stdin).

``load``: the people's calendars as `bench.availclient` loads them, then
``ResourceService.CreateResource`` for every room (its calendar comes with
it) and one ``ImportCalendar`` of its ICS into that calendar, two in flight.

``query``: `bench.availclient`'s query (all people required) plus a
``RoomQuery`` (one room, ``min_capacity``): one untimed call, then
``repeat`` timed ones. Answers the times, the slots and whether every slot
named at least one free room.

Spec, load: availclient's, plus ``"resource_target"`` and ``"rooms": [{"id",
"capacity", "features", "ics_path"}]``. Spec, query: availclient's, plus
``"min_capacity"``.
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
from almanac.v1 import resource_service_pb2 as rs_pb
from almanac.v1 import resource_service_pb2_grpc as rs_grpc
from google.api import httpbody_pb2

from bench.availclient import (
    CHANNEL_OPTIONS,
    ICS_TYPE,
    IMPORT_TIMEOUT_S,
    RPC_TIMEOUT_S,
    _load,
    _metadata,
    _request,
)
from bench.child import child_main

__all__ = ["main"]


async def _load_rooms(spec: dict[str, Any]) -> dict[str, Any]:
    people = await _load(spec)
    metadata = _metadata(spec)
    t0 = time.perf_counter()
    async with grpc.aio.insecure_channel(spec["resource_target"], options=CHANNEL_OPTIONS) as ch:
        stub = rs_grpc.ResourceServiceStub(ch)
        todo = []
        for room in spec["rooms"]:
            created = await stub.CreateResource(
                rs_pb.CreateResourceRequest(
                    parent=spec["account"],
                    resource_id=room["id"],
                    resource=rs_pb.Resource(
                        display_name=f"Room {room['id']}", email=f"{room['id']}@rooms.bench",
                        category=rs_pb.Resource.CATEGORY_ROOM, capacity=room["capacity"],
                        building="HQ", features=room["features"],
                    ),
                ),
                metadata=metadata, timeout=RPC_TIMEOUT_S,
            )  # fmt: skip
            todo.append((created.calendar, Path(room["ics_path"]).read_bytes()))  # noqa: ASYNC240
    created_events = 0
    async with grpc.aio.insecure_channel(spec["calendar_target"], options=CHANNEL_OPTIONS) as ch:
        cal = cal_grpc.CalendarServiceStub(ch)

        async def worker() -> None:
            nonlocal created_events
            while todo:
                name, data = todo.pop(0)
                reply = await cal.ImportCalendar(
                    cal_pb.ImportCalendarRequest(
                        parent=name, ics=httpbody_pb2.HttpBody(content_type=ICS_TYPE, data=data)
                    ),
                    metadata=metadata, timeout=IMPORT_TIMEOUT_S,
                )  # fmt: skip
                created_events += reply.created_count

        async with asyncio.TaskGroup() as tg:
            for _ in range(2):
                tg.create_task(worker())
    rooms_s = time.perf_counter() - t0
    return {**people, "rooms_s": rooms_s, "room_events": created_events}


async def _query(spec: dict[str, Any]) -> dict[str, Any]:
    metadata = _metadata(spec)
    request = _request(spec)
    request.rooms.CopyFrom(
        av_pb.RoomQuery(parent=spec["account"], min_capacity=int(spec["min_capacity"]), count=1)
    )
    async with grpc.aio.insecure_channel(
        spec["availability_target"], options=CHANNEL_OPTIONS
    ) as ch:
        stub = av_grpc.AvailabilityServiceStub(ch)
        t0 = time.perf_counter()
        reply = await stub.QueryAvailability(request, metadata=metadata, timeout=RPC_TIMEOUT_S)
        warmup_s = time.perf_counter() - t0
        seconds = []
        for _ in range(int(spec["repeat"])):
            t0 = time.perf_counter()
            again = await stub.QueryAvailability(request, metadata=metadata, timeout=RPC_TIMEOUT_S)
            seconds.append(time.perf_counter() - t0)
    times = reply.available_times
    return {
        "warmup_s": warmup_s,
        "seconds": seconds,
        "slots": len(times),
        "rooms_per_slot": sum(len(t.free_rooms) for t in times) / max(1, len(times)),
        "every_slot_has_a_room": all(t.free_rooms for t in times),
        "agreed": again == reply,
    }


def main() -> int:
    return child_main(lambda spec: (_load_rooms if spec["mode"] == "load" else _query)(spec))


if __name__ == "__main__":
    sys.exit(main())
