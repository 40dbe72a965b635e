"""The subscribing side of the ``activity`` scenario: ``python -m bench.subscribers [SPEC]``.

A child process (the bench itself makes no gRPC calls, see `bench.proc`)
holding many ``StreamActivity`` streams on a few ``grpc.aio`` channels, each
channel its own TCP connection (a local subchannel pool). Three modes:

- ``latency``: ``streams`` streams from ``START_POSITION_NOW``; once every
  one is established, prints ``READY subscribers <n>`` and records, per
  stream, the ``time.monotonic_ns()`` at which each activity of an event
  whose id starts with ``prefix`` arrives, until every stream has ``expect``
  of them or ``deadline_s`` passes. The writer is another process
  (`bench.activity_writer`); the bench joins the two by event id. From the
  first such activity to the last, it also reads the CPU time of the
  ``watch_pids`` processes, of itself and of the whole machine.
- ``idle``: the same opening, then holds the streams open and idle for
  ``hold_s`` (the bench reads the server's RSS meanwhile).
- ``fanout``: counts the activities in the log (``ListActivities``), then
  per repetition times ``streams`` streams from ``START_POSITION_OLDEST``
  until each has received them all, next to the same number of streams
  from the bare server (`bench.stream_echo`) sending as many messages of
  the same mean size. Both are read as raw bytes (no deserializer), so the
  client does the same work for either; for Almanac the last message of
  each stream is parsed and checked to be the newest activity.

"Established": a stream has received a message. With ``START_POSITION_NOW``
nothing arrives until something is written, so the client writes probe
events (ids ``probe_prefix...``) until every stream has received one; a
stream opened after a probe committed simply waits for the next probe.

``latency`` and ``idle`` take the spec as a file path and write their JSON
answer to the spec's ``out`` path (their stdout carries the READY line);
``fanout`` reads the spec on stdin and answers on stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import activity_service_pb2_grpc as act_grpc
from almanac.v1 import event_service_pb2 as ev_pb
from almanac.v1 import event_service_pb2_grpc as ev_grpc

from bench import eventdata
from bench.procfs import busy_cpu_seconds, cpu_seconds
from bench.stream_echo import METHOD as BARE_METHOD
from bench.stream_echo import request_bytes

__all__ = ["main"]

RPC_TIMEOUT_S = 30.0
STREAM_METHOD = "/almanac.v1.ActivityService/StreamActivity"
PROBE_WAIT_S = 1.0  # after each probe write, how long to wait for every stream to see one
MAX_PROBES = 60
FANOUT_TIMEOUT_S = 300.0  # a wedged run fails instead of hanging

Metadata = tuple[tuple[str, str], ...]


def _metadata(spec: dict[str, Any]) -> Metadata:
    return (("authorization", f"Bearer {spec['token']}"),)


@contextlib.asynccontextmanager
async def _channels(target: str, n: int) -> AsyncIterator[list[grpc.aio.Channel]]:
    """``n`` channels to ``target``, each on its own connection, ready to use."""
    # Without a local subchannel pool, channels with equal arguments share one
    # connection (grpc's global pool), and "a few channels" would be one.
    options = [("grpc.use_local_subchannel_pool", 1)]
    channels = [grpc.aio.insecure_channel(target, options=options) for _ in range(n)]
    try:
        await asyncio.wait_for(asyncio.gather(*(c.channel_ready() for c in channels)), 10)
        yield channels
    finally:
        await asyncio.gather(*(c.close() for c in channels))


# ------------------------------------------------------------- latency, idle


@dataclass
class _Subscriber:
    received: list[tuple[str, int, int, int]] = field(default_factory=list)
    established: bool = False
    messages: int = 0


def _cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    snap = {name: cpu_seconds(pid) for name, pid in pids.items()}
    snap.update(self=time.process_time(), busy=busy_cpu_seconds(), clock=time.monotonic())
    return snap


def _cpu_window(start: dict[str, float], end: dict[str, float]) -> dict[str, float]:
    """Cores used per process between two snapshots; ``other``: the rest of the machine."""
    seconds = end["clock"] - start["clock"]
    used = {k: (end[k] - start[k]) / seconds for k in start if k not in ("clock", "busy")}
    busy = (end["busy"] - start["busy"]) / seconds
    return {**used, "other": max(0.0, busy - sum(used.values())), "seconds": seconds}


@dataclass
class _Subscribers:
    """Streams from START_POSITION_NOW and what they received."""

    n: int
    prefix: str  # resource-name prefix of the writer's events
    expect: int
    watch: dict[str, int]  # processes whose CPU is read while the writer's events arrive
    cpu_start: dict[str, float] | None = None
    cpu_end: dict[str, float] | None = None
    subs: list[_Subscriber] = field(default_factory=list)
    established: int = 0
    complete: int = 0
    all_established: asyncio.Event = field(default_factory=asyncio.Event)
    all_complete: asyncio.Event = field(default_factory=asyncio.Event)

    async def follow(self, stub: act_grpc.ActivityServiceAsyncStub, metadata: Metadata) -> None:
        sub = _Subscriber()
        self.subs.append(sub)
        request = act_pb.StreamActivityRequest(
            parent="accounts/default", start_position=act_pb.START_POSITION_NOW
        )
        call = stub.StreamActivity(request, metadata=metadata)
        try:
            async for message in call:
                mono, wall = time.monotonic_ns(), time.time_ns()
                sub.messages += 1
                if not sub.established:
                    sub.established = True
                    self.established += 1
                    if self.established == self.n:
                        self.all_established.set()
                resource = message.activity.resource
                if self.prefix and resource.startswith(self.prefix):
                    committed = message.activity.create_time.ToNanoseconds()
                    event_id = resource.rsplit("/", 1)[1]
                    sub.received.append((event_id, mono, wall, committed))
                    if self.cpu_start is None:
                        self.cpu_start = _cpu_snapshot(self.watch)
                    if len(sub.received) == self.expect:
                        self.complete += 1
                        if self.complete == self.n:
                            self.cpu_end = _cpu_snapshot(self.watch)
                            self.all_complete.set()
        except asyncio.CancelledError:
            call.cancel()
            raise


async def _probe_until_established(
    subs: _Subscribers, spec: dict[str, Any], metadata: Metadata
) -> int:
    """Write probe events until every stream has received one; returns how many were written."""
    async with grpc.aio.insecure_channel(spec["event_target"]) as channel:
        stub: ev_grpc.EventServiceAsyncStub = ev_grpc.EventServiceStub(channel)
        first = int(spec["probe_first_index"])
        for i in range(MAX_PROBES):
            event = eventdata.to_proto(eventdata.extra_event(first + i))
            request = ev_pb.CreateEventRequest(
                parent=spec["calendar"], event=event, event_id=f"{spec['probe_prefix']}{first + i}"
            )
            await stub.CreateEvent(request, metadata=metadata, timeout=RPC_TIMEOUT_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(subs.all_established.wait(), PROBE_WAIT_S)
                return i + 1
    raise RuntimeError(
        f"only {subs.established} of {subs.n} streams received anything"
        f" after {MAX_PROBES} probe writes"
    )


async def _subscribe(spec: dict[str, Any]) -> dict[str, Any]:
    metadata = _metadata(spec)
    n, n_channels = int(spec["streams"]), int(spec["channels"])
    watch = {k: int(v) for k, v in spec.get("watch_pids", {}).items()}
    subs = _Subscribers(n, spec.get("prefix", ""), int(spec.get("expect", 0)), watch)
    async with (
        _channels(spec["activity_target"], n_channels) as channels,
        asyncio.TaskGroup() as tg,
    ):
        stubs = [act_grpc.ActivityServiceStub(c) for c in channels]
        t0 = time.monotonic()
        tasks = [tg.create_task(subs.follow(stubs[i % n_channels], metadata)) for i in range(n)]
        probes = await _probe_until_established(subs, spec, metadata)
        result: dict[str, Any] = {
            "streams": n,
            "channels": n_channels,
            "establish_s": time.monotonic() - t0,
            "probes": probes,
        }
        print(f"READY subscribers {n}", flush=True)
        if spec["mode"] == "idle":
            messages0 = sum(s.messages for s in subs.subs)
            await asyncio.sleep(float(spec["hold_s"]))
            result["messages_while_idle"] = sum(s.messages for s in subs.subs) - messages0
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(subs.all_complete.wait(), float(spec["deadline_s"]))
            result["received"] = [s.received for s in subs.subs]
            if subs.cpu_start is not None:
                end = subs.cpu_end or _cpu_snapshot(watch)
                result["cpu"] = _cpu_window(subs.cpu_start, end)
        for task in tasks:
            task.cancel()
    return result


# -------------------------------------------------------------------- fanout


async def _count_log(spec: dict[str, Any], metadata: Metadata) -> tuple[int, str, float]:
    """(activities in the log, the newest cursor, mean StreamActivityResponse size)."""
    async with grpc.aio.insecure_channel(spec["activity_target"]) as channel:
        stub: act_grpc.ActivityServiceAsyncStub = act_grpc.ActivityServiceStub(channel)
        request = act_pb.ListActivitiesRequest(parent="accounts/default", page_size=1000)
        count = size = 0
        cursor = ""
        while True:
            page = await stub.ListActivities(request, metadata=metadata, timeout=RPC_TIMEOUT_S)
            count += len(page.activities)
            size += sum(
                act_pb.StreamActivityResponse(activity=a).ByteSize() for a in page.activities
            )
            if page.activities:
                cursor = page.activities[-1].cursor
            if not page.next_page_token:
                return count, cursor, size / max(1, count)
            request.page_token = page.next_page_token


async def _drain(call: grpc.aio.UnaryStreamCall[Any, bytes], count: int) -> bytes:
    """Read ``count`` messages; return the last one."""
    last = b""
    received = 0
    async for raw in call:
        received += 1
        if received == count:
            last = raw
            break
    if received != count:
        raise RuntimeError(f"a stream ended after {received} of {count} messages")
    call.cancel()  # the activity stream would follow the feed forever
    return last


async def _fanout_once(
    spec: dict[str, Any], kind: str, count: int, size: int, cursor: str
) -> dict[str, float]:
    metadata = _metadata(spec)
    n, n_channels = int(spec["streams"]), int(spec["channels"])
    target = spec["bare_target" if kind == "bare" else "activity_target"]
    server_pid = int(spec["bare_pid" if kind == "bare" else "activity_pid"])
    async with _channels(target, n_channels) as channels:
        if kind == "bare":
            bare: list[grpc.aio.UnaryStreamMultiCallable[bytes, bytes]] = [
                c.unary_stream(BARE_METHOD) for c in channels
            ]
            payload = request_bytes(count, size)

            def open_call(i: int) -> grpc.aio.UnaryStreamCall[Any, bytes]:
                return bare[i % n_channels](payload, timeout=FANOUT_TIMEOUT_S)
        else:
            almanac: list[grpc.aio.UnaryStreamMultiCallable[Any, bytes]] = [
                c.unary_stream(
                    STREAM_METHOD,
                    request_serializer=act_pb.StreamActivityRequest.SerializeToString,
                    response_deserializer=None,  # raw bytes, as from the bare server
                )
                for c in channels
            ]
            request = act_pb.StreamActivityRequest(
                parent="accounts/default", start_position=act_pb.START_POSITION_OLDEST
            )

            def open_call(i: int) -> grpc.aio.UnaryStreamCall[Any, bytes]:
                call: grpc.aio.UnaryStreamCall[Any, bytes] = almanac[i % n_channels](
                    request, metadata=metadata, timeout=FANOUT_TIMEOUT_S
                )
                return call

        server0, client0, busy0 = cpu_seconds(server_pid), time.process_time(), busy_cpu_seconds()
        t0 = time.perf_counter()
        lasts = await asyncio.gather(*(_drain(open_call(i), count) for i in range(n)))
        elapsed = time.perf_counter() - t0
        server1, client1, busy1 = cpu_seconds(server_pid), time.process_time(), busy_cpu_seconds()
    if kind == "almanac":
        got = {act_pb.StreamActivityResponse.FromString(b).activity.cursor for b in lasts}
        if got != {cursor}:
            raise RuntimeError(f"streams ended on cursors {sorted(got)}, expected {cursor}")
    server_cpu, client_cpu = (server1 - server0) / elapsed, (client1 - client0) / elapsed
    return {
        "seconds": elapsed,
        "messages": n * count,
        "rate": n * count / elapsed,
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
        "other_cpu": max(0.0, (busy1 - busy0) / elapsed - server_cpu - client_cpu),
    }


async def _fanout(spec: dict[str, Any]) -> dict[str, Any]:
    count, cursor, mean_size = await _count_log(spec, _metadata(spec))
    size = round(mean_size)
    runs: dict[str, list[dict[str, float]]] = {"bare": [], "almanac": []}
    for rep in range(int(spec["repeat"])):
        # Alternate which goes first, so a burst of noise does not always hit the same one.
        for kind in ("bare", "almanac") if rep % 2 == 0 else ("almanac", "bare"):
            run = await _fanout_once(spec, kind, count, size, cursor)
            print(f"fanout {kind} rep {rep + 1}: {run}", file=sys.stderr, flush=True)
            runs[kind].append(run)
    return {"count": count, "message_bytes": mean_size, "runs": runs}


# ---------------------------------------------------------------------- main


def main() -> int:
    if len(sys.argv) > 1:
        spec = json.loads(Path(sys.argv[1]).read_text())
    else:
        spec = json.load(sys.stdin)
    result: dict[str, Any] | None = None
    try:
        result = asyncio.run(_fanout(spec) if spec["mode"] == "fanout" else _subscribe(spec))
    except* grpc.aio.AioRpcError as group:
        err = group.exceptions[0]
        assert isinstance(err, grpc.aio.AioRpcError)
        print(f"subscribers: call failed: {err.code().name}: {err.details()}", file=sys.stderr)
    if result is None:
        return 1
    if "out" in spec:
        Path(spec["out"]).write_text(json.dumps(result))
    else:
        json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
