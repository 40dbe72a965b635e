"""Running the gateway: uvicorn with httptools and uvloop, on the options' port."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Mapping

import uvicorn

from gateway.app import build_app
from gateway.options import GatewayOptions

__all__ = ["serve"]

_log = logging.getLogger("almanac.gateway")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


async def serve(
    targets: Mapping[str, str],
    options: GatewayOptions | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until cancelled or signalled; ``on_ready(url)`` once it accepts.

    The socket is bound here, before uvicorn starts, so port 0 works and the
    real URL is known (``on_ready`` gets it; ``almanac up`` prints it).
    """
    options = options or GatewayOptions()
    app = build_app(targets, options)
    sock = _bind(options.host, options.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    config = uvicorn.Config(
        app,
        loop="none",  # the running loop (uvloop when started by python -m gateway)
        http="httptools",
        lifespan="on",
        log_level=options.log_level,
        access_log=options.log_level in ("debug", "trace"),
        server_header=False,
        # The gateway appends to X-Forwarded-For itself; uvicorn must not
        # replace the peer address with the header's first hop.
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn has no event)
        await asyncio.sleep(0.01)
    if server.started and on_ready is not None:
        on_ready(f"http://{shown}:{port}")
    try:
        await task
    finally:
        sock.close()
