"""A bare grpc.aio server-streaming server: the ceiling for a Python gRPC stream here.

``python -m bench.stream_echo`` serves ``/bench.StreamEcho/Stream``: the
request is ASCII ``"<count>,<size>"`` and the reply is a stream of ``count``
messages of ``size`` bytes each, pre-serialized (identity serializers, one
``bytes`` object built per call): no protobuf, no interceptors, no store.
It is what the ``activity`` scenario's fan-out is compared with. Prints
``READY stream-echo <host:port>`` like the Almanac services do; SIGTERM's
default action ends it.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc

from bench.echo import OPTIONS

__all__ = ["METHOD", "request_bytes"]

SERVICE = "bench.StreamEcho"
METHOD = f"/{SERVICE}/Stream"
MAX_SIZE = 1 << 20


def request_bytes(count: int, size: int) -> bytes:
    """The request asking for ``count`` messages of ``size`` bytes."""
    return f"{count},{size}".encode()


async def _stream(
    request: bytes, context: grpc.aio.ServicerContext[Any, Any]
) -> AsyncIterator[bytes]:
    count, size = (int(x) for x in request.split(b","))
    if not (0 <= count and 0 <= size <= MAX_SIZE):
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "count >= 0, 0 <= size <= 1 MiB")
    payload = b"a" * size
    for _ in range(count):
        yield payload


async def _serve(host: str) -> None:
    method: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_stream_rpc_method_handler(_stream)
    handler = grpc.method_handlers_generic_handler(SERVICE, {"Stream": method})
    server = grpc.aio.server(options=OPTIONS)
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port(f"{host}:0")
    await server.start()
    print(f"READY stream-echo {host}:{port}", flush=True)
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stream_echo", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    asyncio.run(_serve(parser.parse_args().host))


if __name__ == "__main__":
    main()
