"""The Almanac half of the ``events`` scenario: ``python -m bench.eventclient`` (JSON on stdin).

A child process, like `bench.load`: the bench process itself makes no gRPC
calls (it forks children; see `bench.proc`), and the client must not share a
GIL with the bench. It rebuilds the 10,000 events from `bench.eventdata`'s
seed, so only the ICS file's path crosses the process boundary.

Steps, in this order so the month query sees exactly the generated calendar:

1. Load: ``CalendarService.ImportCalendar`` with the whole ICS in one call;
   if that fails (e.g. UNIMPLEMENTED, or no calendar service), ``CreateEvent``
   per event with ``load_concurrency`` calls in flight.
2. One untimed month ``ListEvents`` (instances, ``page_size`` 1000, every
   page), then ``list_repeat`` timed ones.
3. ``CreateEvent`` throughput: at each level C, C coroutines on one channel
   create new single events (`eventdata.extra_event`) for ``warmup_s`` and
   then a ``window_s`` window; calls completed in the window count.

Spec: ``{"event_target", "calendar_target" (may be ""), "token", "parent",
"ics_path", "seed", "n_events", "month_start", "month_end" (ISO 8601),
"list_repeat", "create_levels", "warmup_s", "window_s", "load_concurrency"}``.
The answer on stdout is JSON; a failed call ends the run with the error on
stderr and exit status 1.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import calendar_service_pb2_grpc as cal_grpc
from almanac.v1 import event_service_pb2 as ev_pb
from almanac.v1 import event_service_pb2_grpc as ev_grpc
from google.api import httpbody_pb2
from google.protobuf import timestamp_pb2

from bench import eventdata
from bench.child import child_main

__all__ = ["main"]

RPC_TIMEOUT_S = 60.0
IMPORT_TIMEOUT_S = 600.0
PAGE_SIZE = 1000
# The ICS is a few MiB; the contract allows 16 MiB.
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", 64 << 20),
    ("grpc.max_receive_message_length", 64 << 20),
]

Metadata = tuple[tuple[str, str], ...]


def _ts(iso: str) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(datetime.fromisoformat(iso))
    return ts


def _rpc_error(err: grpc.aio.AioRpcError) -> str:
    return f"{err.code().name}: {err.details()}"


async def _import(spec: dict[str, Any], ics: bytes, metadata: Metadata) -> dict[str, Any]:
    if not spec.get("calendar_target"):
        raise _ImportUnavailable("no calendar service")
    request = cal_pb.ImportCalendarRequest(
        parent=spec["parent"],
        ics=httpbody_pb2.HttpBody(content_type="text/calendar; charset=utf-8", data=ics),
    )
    async with grpc.aio.insecure_channel(spec["calendar_target"], options=CHANNEL_OPTIONS) as ch:
        stub = cal_grpc.CalendarServiceStub(ch)
        t0 = time.perf_counter()
        try:
            reply = await stub.ImportCalendar(request, metadata=metadata, timeout=IMPORT_TIMEOUT_S)
        except grpc.aio.AioRpcError as err:
            raise _ImportUnavailable(_rpc_error(err)) from None
        seconds = time.perf_counter() - t0
    return {
        "method": "ImportCalendar",
        "seconds": seconds,
        "ics_bytes": len(ics),
        "created": reply.created_count,
        "updated": reply.updated_count,
        "exceptions": reply.exception_count,
        "skipped": reply.skipped_count,
    }


class _ImportUnavailable(Exception):
    pass


async def _create_all(
    stub: ev_grpc.EventServiceAsyncStub, spec: dict[str, Any], metadata: Metadata
) -> dict[str, Any]:
    specs = eventdata.generate(int(spec["n_events"]), int(spec["seed"]))
    requests = iter(
        ev_pb.CreateEventRequest(
            parent=spec["parent"], event=eventdata.to_proto(s), event_id=s.event_id
        )
        for s in specs
    )

    async def worker() -> None:
        for request in requests:  # a shared iterator: each request is taken once
            await stub.CreateEvent(request, metadata=metadata, timeout=RPC_TIMEOUT_S)

    t0 = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for _ in range(int(spec["load_concurrency"])):
            tg.create_task(worker())
    return {"method": "CreateEvent", "seconds": time.perf_counter() - t0, "created": len(specs)}


async def _list_month(
    stub: ev_grpc.EventServiceAsyncStub, spec: dict[str, Any], metadata: Metadata
) -> tuple[float, int, int, int]:
    """One month listing, all pages: (seconds, instances, pages, total_size)."""
    request = ev_pb.ListEventsRequest(
        parent=spec["parent"],
        start_time=_ts(spec["month_start"]),
        end_time=_ts(spec["month_end"]),
        page_size=PAGE_SIZE,
    )
    instances = pages = total_size = 0
    t0 = time.perf_counter()
    while True:
        reply = await stub.ListEvents(request, metadata=metadata, timeout=RPC_TIMEOUT_S)
        instances += len(reply.events)
        pages += 1
        total_size = total_size or reply.total_size
        if not reply.next_page_token:
            break
        request.page_token = reply.next_page_token
    return time.perf_counter() - t0, instances, pages, total_size


async def _create_rate(
    stub: ev_grpc.EventServiceAsyncStub,
    spec: dict[str, Any],
    metadata: Metadata,
    concurrency: int,
    counter: itertools.count[int],
) -> dict[str, float]:
    seed = int(spec["seed"])
    state: dict[str, Any] = {"samples": None, "running": True}

    async def worker() -> None:
        while state["running"]:
            event = eventdata.to_proto(eventdata.extra_event(next(counter), seed))
            request = ev_pb.CreateEventRequest(parent=spec["parent"], event=event)
            start = time.perf_counter_ns()
            await stub.CreateEvent(request, metadata=metadata, timeout=RPC_TIMEOUT_S)
            samples = state["samples"]
            if samples is not None:
                samples.append(time.perf_counter_ns() - start)

    async with asyncio.TaskGroup() as tg:
        for _ in range(concurrency):
            tg.create_task(worker())
        await asyncio.sleep(float(spec["warmup_s"]))
        samples: list[int] = []
        state["samples"] = samples
        t0 = time.perf_counter()
        await asyncio.sleep(float(spec["window_s"]))
        state["samples"] = None
        elapsed = time.perf_counter() - t0
        state["running"] = False
    samples.sort()
    return {
        "concurrency": concurrency,
        "calls": len(samples),
        "seconds": elapsed,
        "rate": len(samples) / elapsed,
        "p50_ms": samples[len(samples) // 2] / 1e6 if samples else float("nan"),
    }


async def _run(spec: dict[str, Any], ics: bytes) -> dict[str, Any]:
    metadata: Metadata = (("authorization", f"Bearer {spec['token']}"),)
    result: dict[str, Any] = {}
    try:
        result["load"] = await _import(spec, ics, metadata)
    except _ImportUnavailable as why:
        result["import_error"] = str(why)
    async with grpc.aio.insecure_channel(spec["event_target"], options=CHANNEL_OPTIONS) as ch:
        await asyncio.wait_for(ch.channel_ready(), 10)
        stub: ev_grpc.EventServiceAsyncStub = ev_grpc.EventServiceStub(ch)
        if "load" not in result:
            result["load"] = await _create_all(stub, spec, metadata)
        print(f"loaded: {result['load']}", file=sys.stderr, flush=True)

        await _list_month(stub, spec, metadata)  # warm-up, untimed
        runs = [await _list_month(stub, spec, metadata) for _ in range(int(spec["list_repeat"]))]
        result["list"] = {
            "seconds": [r[0] for r in runs],
            "instances": runs[-1][1],
            "instances_seen": sorted({r[1] for r in runs}),
            "pages": runs[-1][2],
            "total_size": runs[-1][3],
        }
        print(f"listed: {result['list']}", file=sys.stderr, flush=True)

        counter = itertools.count()
        result["create"] = [
            await _create_rate(stub, spec, metadata, int(c), counter) for c in spec["create_levels"]
        ]
    return result


def main() -> int:
    return child_main(lambda spec: _run(spec, Path(spec["ics_path"]).read_bytes()))


if __name__ == "__main__":
    sys.exit(main())
