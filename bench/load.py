"""The load generator process: ``python -m bench.load`` (a JSON spec on stdin).

It runs in its own process so it never shares the GIL of the server it
measures. ``concurrency`` coroutines share ONE ``grpc.aio`` channel and
each loops call → await → call. After ``warmup_s`` it times ``repeat``
back-to-back windows of ``window_s``; a call counts in the window in which
it completes. The answer on stdout is JSON: per window the QPS, p50/p99
latency and the CPU used by the server (``server_pid``), by this process and
by everything else on the machine.

Spec: ``{"workload": "echo"|"get_calendar"|..., "target": "host:port",
"concurrency": 16, "warmup_s": 1, "window_s": 3, "repeat": 3,
"server_pid": 123, "params": {...}}``. A failed call aborts the run: a
benchmark that counts errors as throughput lies.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from bench.echo import METHOD as ECHO_METHOD
from bench.procfs import busy_cpu_seconds, cpu_seconds

__all__ = ["WORKLOADS", "workload"]

RPC_TIMEOUT_S = 30.0  # only there so a wedged server fails the run instead of hanging it

Call = Callable[[], Awaitable[None]]
# A workload makes one checked call (so auth or wiring errors show up before
# any timing) and returns the call to repeat plus the response size in bytes.
WorkloadFactory = Callable[[grpc.aio.Channel, dict[str, Any]], Awaitable[tuple[Call, int]]]

WORKLOADS: dict[str, WorkloadFactory] = {}


def workload(name: str) -> Callable[[WorkloadFactory], WorkloadFactory]:
    def register(factory: WorkloadFactory) -> WorkloadFactory:
        WORKLOADS[name] = factory
        return factory

    return register


@workload("echo")
async def _echo(channel: grpc.aio.Channel, params: dict[str, Any]) -> tuple[Call, int]:
    # No serializers: bytes in, bytes out.
    rpc: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(ECHO_METHOD)
    payload = b"x" * int(params["payload_bytes"])
    reply = await rpc(payload, timeout=RPC_TIMEOUT_S)

    async def call() -> None:
        await rpc(payload, timeout=RPC_TIMEOUT_S)

    return call, len(reply)


@workload("get_calendar")
async def _get_calendar(channel: grpc.aio.Channel, params: dict[str, Any]) -> tuple[Call, int]:
    from almanac.v1 import calendar_service_pb2 as c
    from almanac.v1 import calendar_service_pb2_grpc as cg

    stub = cg.CalendarServiceStub(channel)
    request = c.GetCalendarRequest(name=params["name"])
    metadata = (("authorization", f"Bearer {params['token']}"),)
    reply = await stub.GetCalendar(request, metadata=metadata, timeout=RPC_TIMEOUT_S)

    async def call() -> None:
        await stub.GetCalendar(request, metadata=metadata, timeout=RPC_TIMEOUT_S)

    return call, reply.ByteSize()


@workload("create_event")
async def _create_event(channel: grpc.aio.Channel, params: dict[str, Any]) -> tuple[Call, int]:
    """New single events into the calendar ``params["parent"]``, as `bench.eventclient` makes."""
    import itertools

    from almanac.v1 import event_service_pb2 as e
    from almanac.v1 import event_service_pb2_grpc as eg

    from bench import eventdata

    stub = eg.EventServiceStub(channel)
    metadata = (("authorization", f"Bearer {params['token']}"),)
    # Each load process gets its own range of event numbers (UIDs must not repeat).
    counter = itertools.count(int(params.get("first", 1_000_000)))

    def request() -> e.CreateEventRequest:
        event = eventdata.to_proto(eventdata.extra_event(next(counter)))
        return e.CreateEventRequest(parent=params["parent"], event=event)

    reply = await stub.CreateEvent(request(), metadata=metadata, timeout=RPC_TIMEOUT_S)

    async def call() -> None:
        await stub.CreateEvent(request(), metadata=metadata, timeout=RPC_TIMEOUT_S)

    return call, reply.ByteSize()


class _Window:
    """Where finished calls record their latency; None between windows."""

    samples: list[int] | None = None
    running = True


def _percentile(sorted_ns: list[int], q: float) -> float:
    """Nearest-rank percentile in milliseconds."""
    if not sorted_ns:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_ns)))
    return sorted_ns[rank - 1] / 1e6


async def _measure(spec: dict[str, Any], window: _Window) -> list[dict[str, float]]:
    server_pid = int(spec["server_pid"])
    await asyncio.sleep(float(spec["warmup_s"]))
    reps: list[dict[str, float]] = []
    for _ in range(int(spec["repeat"])):
        samples: list[int] = []
        server0, client0 = cpu_seconds(server_pid), time.process_time()
        busy0 = busy_cpu_seconds()
        t0 = time.perf_counter()
        window.samples = samples
        await asyncio.sleep(float(spec["window_s"]))
        window.samples = None
        elapsed = time.perf_counter() - t0
        server1, client1 = cpu_seconds(server_pid), time.process_time()
        busy1 = busy_cpu_seconds()
        server_cpu, client_cpu = (server1 - server0) / elapsed, (client1 - client0) / elapsed
        samples.sort()
        reps.append(
            {
                "calls": len(samples),
                "seconds": elapsed,
                "qps": len(samples) / elapsed,
                "p50_ms": _percentile(samples, 0.50),
                "p99_ms": _percentile(samples, 0.99),
                # In cores (1.0 = one core busy); grpc's C threads count too.
                "server_cpu": server_cpu,
                "client_cpu": client_cpu,
                # Everything else on the machine: high means the window was starved.
                "other_cpu": max(0.0, (busy1 - busy0) / elapsed - server_cpu - client_cpu),
            }
        )
    return reps


async def _run(spec: dict[str, Any]) -> dict[str, Any]:
    window = _Window()
    async with grpc.aio.insecure_channel(spec["target"]) as channel:
        await asyncio.wait_for(channel.channel_ready(), 10)
        call, response_bytes = await WORKLOADS[spec["workload"]](channel, spec.get("params", {}))

        async def worker() -> None:
            while window.running:
                start = time.perf_counter_ns()
                await call()
                samples = window.samples
                if samples is not None:
                    samples.append(time.perf_counter_ns() - start)

        # TaskGroup: one failed call cancels the other workers and the timer.
        async with asyncio.TaskGroup() as tg:
            for _ in range(int(spec["concurrency"])):
                tg.create_task(worker())
            reps = await _measure(spec, window)
            window.running = False
    return {"response_bytes": response_bytes, "reps": reps}


def _first_rpc_error(spec: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    # The TaskGroup wraps a worker's failure in an ExceptionGroup; unwrap it.
    error = ""
    try:
        return asyncio.run(_run(spec)), error
    except* grpc.aio.AioRpcError as group:
        err = group.exceptions[0]
        assert isinstance(err, grpc.aio.AioRpcError)
        error = f"{spec['workload']} failed: {err.code().name}: {err.details()}"
    return None, error


def main() -> int:
    spec = json.load(sys.stdin)
    result, error = _first_rpc_error(spec)
    if result is None:
        print(error, file=sys.stderr)
        return 1
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
