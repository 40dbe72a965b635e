"""``almanac up --single-process``: the whole suite in one process, on one port.

One runtime (one store pool, one connector registry, one set of imports),
one ``grpc.aio`` server with every servicer (one health and reflection
service), the sync worker and retention loops, and the REST gateway, all on
one event loop. The public port (`single_port`) answers gRPC and HTTP/JSON
alike (`services.single.port`); the gRPC server itself listens on a free
loopback port that only this process and the splice use.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

import grpc

from connectors.state.retention import run_retention
from connectors.sync.worker import SyncWorker
from gateway.embedded import EmbeddedGateway
from gateway.options import GatewayOptions
from services.catalog import CATALOG
from services.runtime.config import Settings
from services.runtime.context import Runtime, open_runtime
from services.runtime.server import RunningServer, serve_forever, start_server
from services.single.port import OnePortListener
from services.sync.process import SERVICE_NAME as SYNC_SERVICE
from services.sync.process import options_of

__all__ = ["serve_single"]

_log = logging.getLogger("almanac.single")

# The internal gRPC server: loopback only, a free port.
_INTERNAL_HOST = "127.0.0.1"


def _registrations(rt: Runtime) -> tuple[list[Callable[[grpc.aio.Server], None]], list[Any]]:
    """Every catalog servicer, built on the shared runtime, and its registration."""
    servicers = [(entry, entry.build(rt)) for entry in CATALOG.values()]

    def register(entry: Any, servicer: Any) -> Callable[[grpc.aio.Server], None]:
        return lambda server: entry.add(servicer, server)

    return [register(e, s) for e, s in servicers], [s for _, s in servicers]


def _gateway_options(settings: Settings) -> GatewayOptions:
    origins = tuple(o.strip() for o in settings.gateway_cors_origins.split(",") if o.strip())
    return GatewayOptions(
        host=settings.host,
        port=settings.single_port,
        default_timeout=settings.gateway_timeout_seconds,
        cors_origins=origins,
        log_level="warning",
    )


async def _start_grpc(rt: Runtime, settings: Settings) -> RunningServer:
    register, servicers = _registrations(rt)
    names = [entry.full_name for entry in CATALOG.values()]
    running = await start_server(
        "single",
        register,
        [*names, SYNC_SERVICE],
        settings.replace(host=_INTERNAL_HOST),
        port=0,
        authenticator=rt.registry.authenticate,
    )
    for servicer in servicers:
        if hasattr(servicer, "shutdown"):
            running.on_shutdown.append(servicer.shutdown)
    return running


def _background(rt: Runtime, settings: Settings, stop: asyncio.Event) -> list[asyncio.Task[None]]:
    """The sync worker and the retention purge, as in ``almanac serve sync``."""
    worker = SyncWorker(
        rt.store,
        rt.connectors.backend_for,
        options_of(settings),
        owner=f"{socket.gethostname()}-{os.getpid()}",
    )
    retention = run_retention(
        rt.store,
        settings.tombstone_retention_days * 86400,
        settings.retention_interval_seconds,
        stop,
    )
    return [asyncio.create_task(worker.run(stop)), asyncio.create_task(retention)]


async def serve_single(settings: Settings, on_ready: Callable[[str], None]) -> None:
    """Serve everything until SIGTERM/SIGINT, then stop it all gracefully.

    ``on_ready(address)`` gets the public ``host:port`` once it accepts.
    """
    rt = await open_runtime(settings)
    try:
        running = await _start_grpc(rt, settings)
        internal = f"{_INTERNAL_HOST}:{running.port}"
        targets = {entry.full_name: internal for entry in CATALOG.values()}
        gateway = EmbeddedGateway(targets, _gateway_options(settings))
        await gateway.start()
        listener = OnePortListener((_INTERNAL_HOST, running.port), gateway.protocol)
        port = await listener.start(settings.host, settings.single_port)
        stop = asyncio.Event()
        tasks = _background(rt, settings, stop)

        def stop_accepting() -> None:
            # First thing on SIGTERM, next to health NOT_SERVING: no new
            # connections; open ones drain with the gRPC server's grace.
            listener.close()
            gateway.stop()
            stop.set()

        running.on_shutdown.append(stop_accepting)
        shown = f"[{settings.host}]" if ":" in settings.host else settings.host
        on_ready(f"{shown}:{port}")
        await serve_forever(running)
        stop_accepting()
        await gateway.wait()
        await asyncio.gather(*tasks)
    finally:
        await rt.aclose()
