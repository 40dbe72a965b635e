"""Bare gRPC echo servers: the ceiling for a Python gRPC service on this machine.

``python -m bench.echo aio|sync`` serves ``/bench.Echo/Echo``, which returns
the request bytes unchanged: no protobuf (identity serializers), no
interceptors, no health service. Prints ``READY echo-<mode> <host:port>``
like the Almanac services do. SIGTERM's default action ends it; there is
nothing to flush.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

__all__ = ["METHOD", "PAYLOAD_BYTES"]

SERVICE = "bench.Echo"
METHOD = f"/{SERVICE}/Echo"
# About a GetCalendar response (104 bytes today) plus headroom for the
# description and labels a real calendar carries.
PAYLOAD_BYTES = 200
# Same as the Almanac servers: never silently share a port (grpc/grpc#16920).
OPTIONS = [("grpc.so_reuseport", 0)]
# Enough threads that C=64 is not queued behind the pool; more only adds GIL
# contention.
SYNC_WORKERS = 64


def _handler(echo: Callable[..., Any]) -> grpc.GenericRpcHandler:
    # No (de)serializers: grpc passes the raw request bytes in and out.
    method: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(echo)
    return grpc.method_handlers_generic_handler(SERVICE, {"Echo": method})


async def _serve_aio(host: str, label: str = "aio") -> None:
    async def echo(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        return request

    server = grpc.aio.server(options=OPTIONS)
    server.add_generic_rpc_handlers((_handler(echo),))
    port = server.add_insecure_port(f"{host}:0")
    await server.start()
    print(f"READY echo-{label} {host}:{port}", flush=True)
    await server.wait_for_termination()


def _serve_sync(host: str) -> None:
    def echo(request: bytes, context: grpc.ServicerContext) -> bytes:
        return request

    server = grpc.server(ThreadPoolExecutor(max_workers=SYNC_WORKERS), options=OPTIONS)
    server.add_generic_rpc_handlers((_handler(echo),))
    port = server.add_insecure_port(f"{host}:0")
    server.start()
    print(f"READY echo-sync {host}:{port}", flush=True)
    server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.echo", description=__doc__)
    parser.add_argument("mode", choices=["aio", "aio-uvloop", "sync"])
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    if args.mode == "aio":
        asyncio.run(_serve_aio(args.host))
    elif args.mode == "aio-uvloop":
        # The loop Almanac's services run on by default (`event_loop`).
        import uvloop

        uvloop.run(_serve_aio(args.host, args.mode))
    else:
        _serve_sync(args.host)


if __name__ == "__main__":
    main()
