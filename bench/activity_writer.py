"""The ``activity`` scenario's writer: ``python -m bench.activity_writer`` (JSON on stdin).

A child process of its own, so the instant a ``CreateEvent`` returns is not
delayed by the subscribers' event loop (`bench.subscribers`). Two modes:

- ``steady``: ``count`` CreateEvent calls started at ``rate`` per second on a
  fixed schedule (open loop: a slow call does not delay the next one). For
  each, the ``time.monotonic_ns()`` just after its reply arrived: the commit
  happened before the reply, and CLOCK_MONOTONIC is one clock for every
  process on the machine, so the subscribers' receive times compare with it.
- ``preload``: ``count`` CreateEvent calls with ``concurrency`` in flight, to
  fill the activity log for the fan-out runs.

Events are `bench.eventdata.extra_event` (realistic titles, descriptions,
zones) numbered from ``first_index``, with event ids ``<prefix><index>``.

Spec: ``{"mode", "event_target", "token", "parent", "prefix", "first_index",
"count", "rate" (steady), "concurrency" (preload)}``. The answer on stdout is
JSON; a failed call ends the run with the error on stderr and exit status 1.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import grpc
from almanac.v1 import event_service_pb2 as ev_pb
from almanac.v1 import event_service_pb2_grpc as ev_grpc

from bench import eventdata
from bench.child import child_main

__all__ = ["event_id", "main"]

RPC_TIMEOUT_S = 30.0


def event_id(prefix: str, index: int) -> str:
    return f"{prefix}{index:06d}"


def _request(spec: dict[str, Any], index: int) -> ev_pb.CreateEventRequest:
    event = eventdata.to_proto(eventdata.extra_event(index))
    return ev_pb.CreateEventRequest(
        parent=spec["parent"], event=event, event_id=event_id(spec["prefix"], index)
    )


async def _steady(stub: ev_grpc.EventServiceAsyncStub, spec: dict[str, Any]) -> dict[str, Any]:
    metadata = (("authorization", f"Bearer {spec['token']}"),)
    first, count, rate = int(spec["first_index"]), int(spec["count"]), float(spec["rate"])
    requests = [_request(spec, first + i) for i in range(count)]  # built before the clock runs
    returned: dict[str, int] = {}
    call_ms: list[float] = []

    async def write(request: ev_pb.CreateEventRequest) -> None:
        start = time.monotonic_ns()
        await stub.CreateEvent(request, metadata=metadata, timeout=RPC_TIMEOUT_S)
        now = time.monotonic_ns()
        returned[request.event_id] = now
        call_ms.append((now - start) / 1e6)

    t0 = time.monotonic()
    late_ms = 0.0
    async with asyncio.TaskGroup() as tg:
        for i, request in enumerate(requests):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late_ms = max(late_ms, -delay * 1e3)
            tg.create_task(write(request))
    call_ms.sort()
    return {
        "returned_ns": returned,
        "seconds": time.monotonic() - t0,
        "call_p50_ms": call_ms[len(call_ms) // 2],
        "call_max_ms": call_ms[-1],
        "schedule_late_ms": late_ms,  # how far the writer fell behind its own schedule
    }


async def _preload(stub: ev_grpc.EventServiceAsyncStub, spec: dict[str, Any]) -> dict[str, Any]:
    metadata = (("authorization", f"Bearer {spec['token']}"),)
    first, count = int(spec["first_index"]), int(spec["count"])
    indexes = iter(range(first, first + count))

    async def worker() -> None:
        for index in indexes:  # a shared iterator: each index is taken once
            await stub.CreateEvent(_request(spec, index), metadata=metadata, timeout=RPC_TIMEOUT_S)

    t0 = time.monotonic()
    async with asyncio.TaskGroup() as tg:
        for _ in range(int(spec["concurrency"])):
            tg.create_task(worker())
    return {"created": count, "seconds": time.monotonic() - t0}


async def _run(spec: dict[str, Any]) -> dict[str, Any]:
    async with grpc.aio.insecure_channel(spec["event_target"]) as channel:
        await asyncio.wait_for(channel.channel_ready(), 10)
        stub: ev_grpc.EventServiceAsyncStub = ev_grpc.EventServiceStub(channel)
        if spec["mode"] == "steady":
            return await _steady(stub, spec)
        return await _preload(stub, spec)


def main() -> int:
    return child_main(_run, "CreateEvent")


if __name__ == "__main__":
    sys.exit(main())
