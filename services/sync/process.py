"""``almanac serve sync``: the sync worker as a process of the suite.

It serves only gRPC health (so ``almanac up``, orchestrators and load
balancers can watch it like any service) and runs
:class:`connectors.sync.worker.SyncWorker` until it is told to stop; leases
in the store let any number of these run side by side. It also runs the
retention purge (`connectors.state.retention`) in the background.
"""

from __future__ import annotations

import asyncio
import os
import socket

from connectors.state.retention import run_retention
from connectors.sync.worker import SyncOptions, SyncWorker
from services.runtime.config import Settings
from services.runtime.context import open_runtime
from services.runtime.metrics import instrument_store
from services.runtime.server import serve_forever, start_server
from services.sync import metrics as sync_metrics

__all__ = ["SERVICE_NAME", "serve_sync"]

# The health entry of the worker (it has no RPCs of its own).
SERVICE_NAME = "almanac.v1.SyncWorker"


def options_of(settings: Settings) -> SyncOptions:
    return SyncOptions(
        interval=settings.sync_interval_seconds,
        poll=settings.sync_poll_seconds,
        lease=settings.sync_lease_seconds,
        concurrency=settings.sync_concurrency,
    )


async def serve_sync(settings: Settings, port: int) -> None:
    rt = await open_runtime(settings)
    try:
        if settings.metrics_port is not None:
            instrument_store(rt.store)
            sync_metrics.install(rt.store)
        worker = SyncWorker(
            rt.store,
            rt.connectors.backend_for,
            options_of(settings),
            owner=f"{socket.gethostname()}-{os.getpid()}",
        )
        stop = asyncio.Event()
        running = await start_server(
            "sync", [], [SERVICE_NAME], settings, port=port,
            authenticator=rt.registry.authenticate,
        )  # fmt: skip

        async def finish() -> None:
            stop.set()

        running.on_shutdown.append(finish)
        task = asyncio.create_task(worker.run(stop))
        retention = asyncio.create_task(
            run_retention(
                rt.store,
                settings.tombstone_retention_days * 86400,
                settings.retention_interval_seconds,
                stop,
            )
        )
        # Parents (almanac up, tests) read this line to learn the bound port.
        print(f"READY sync {running.address}", flush=True)
        await serve_forever(running)
        stop.set()
        await task
        await retention
    finally:
        await rt.aclose()
