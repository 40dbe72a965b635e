"""The gateway without a listening socket of its own, for a host that accepts.

`EmbeddedGateway` runs uvicorn's server loop (lifespan, connection tracking,
graceful shutdown) with no sockets; the host accepts connections itself and
asks `protocol()` for the HTTP protocol of each (``almanac up
--single-process`` does, to serve HTTP and gRPC on one port).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import uvicorn

from gateway.app import build_app
from gateway.options import GatewayOptions

__all__ = ["EmbeddedGateway"]


class EmbeddedGateway:
    """uvicorn serving the gateway app on connections handed to it."""

    def __init__(self, targets: Mapping[str, str], options: GatewayOptions) -> None:
        config = uvicorn.Config(
            build_app(targets, options),
            loop="none",  # the running loop
            http="httptools",
            lifespan="on",
            log_level=options.log_level,
            access_log=options.log_level in ("debug", "trace"),
            server_header=False,
            proxy_headers=False,  # as gateway.server: the app handles X-Forwarded-For
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the app (lifespan) and return once it takes connections."""
        # No sockets: uvicorn listens nowhere; `protocol()` feeds it.
        self._task = asyncio.ensure_future(self._server.serve(sockets=[]))
        while not self._server.started and not self._task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)  # uvicorn has no started event
        if self._task.done():
            self._task.result()  # raises what stopped it
            raise RuntimeError("the gateway stopped during start-up")

    def protocol(self) -> asyncio.Protocol:
        """A fresh HTTP protocol for one accepted connection."""
        config = self._server.config
        protocol: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
            config=config,
            server_state=self._server.server_state,
            app_state=self._server.lifespan.state,
            _loop=asyncio.get_running_loop(),
        )
        return protocol

    def stop(self) -> None:
        """Ask for a graceful stop: open requests finish (up to 5 s)."""
        self._server.should_exit = True

    async def wait(self) -> None:
        if self._task is not None:
            await self._task
