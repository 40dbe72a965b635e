"""The ``gateway`` scenario's stream clients: ``python -m bench.gateway_clients`` (JSON spec).

``mode``: ``grpc`` opens ``streams`` StreamActivity calls straight to the
activity service; ``sse`` opens as many ``Accept: text/event-stream``
requests to the gateway over raw asyncio sockets (an HTTP client library
would cost more CPU than it measures). Every stream starts at the oldest
activity and reads until it has ``expect`` activities; the answer is the wall
time from the first request to the last stream done, and this process's CPU.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import grpc
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import activity_service_pb2_grpc as act_grpc

from bench.child import child_main

__all__ = ["main"]


async def _grpc_stream(stub: Any, spec: dict[str, Any]) -> int:
    request = act_pb.StreamActivityRequest(
        parent=spec["parent"], start_position=act_pb.START_POSITION_OLDEST
    )
    metadata = (("authorization", f"Bearer {spec['token']}"),)
    seen = 0
    call = stub.StreamActivity(request, metadata=metadata)
    async for message in call:
        if message.HasField("activity"):
            seen += 1
            if seen >= spec["expect"]:
                call.cancel()
                break
    return seen


async def _sse_stream(spec: dict[str, Any]) -> int:
    url = urlsplit(spec["url"])
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    path = f"/v1/{spec['parent']}/activities:stream?startPosition=START_POSITION_OLDEST"
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nAccept: text/event-stream\r\n"
        f"Authorization: Bearer {spec['token']}\r\n\r\n".encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"SSE request failed: {status!r}")
    seen = 0
    # Chunk-size lines and SSE lines interleave; only "data:" lines of
    # activities count (heartbeats carry no "activity" key).
    while seen < spec["expect"]:
        line = await reader.readline()
        if not line:
            raise RuntimeError("the gateway closed the stream early")
        if line.startswith(b'data: {"activity"'):
            seen += 1
    writer.close()
    return seen


async def _run(spec: dict[str, Any]) -> dict[str, Any]:
    cpu0, t0 = time.process_time(), time.monotonic()
    if spec["mode"] == "grpc":
        async with grpc.aio.insecure_channel(spec["target"]) as channel:
            stub = act_grpc.ActivityServiceStub(channel)
            counts = await asyncio.gather(
                *(_grpc_stream(stub, spec) for _ in range(spec["streams"]))
            )
    else:
        counts = await asyncio.gather(*(_sse_stream(spec) for _ in range(spec["streams"])))
    elapsed = time.monotonic() - t0
    return {"seconds": elapsed, "messages": sum(counts), "client_cpu_s": time.process_time() - cpu0}


def main() -> int:
    return child_main(_run, "stream client")


if __name__ == "__main__":
    raise SystemExit(main())
