"""The ``/metrics`` endpoint of a process: a tiny HTTP server on its event loop.

Why not ``prometheus_client.start_http_server``: that serves from a thread,
and the collectors then read the event loop's structures (the activity
streams, the sync worker's state) while the loop changes them. Served on
the loop itself, a scrape sees a consistent state and may await the store
(`services.runtime.metrics.refresh`) before it renders.

It speaks just enough HTTP/1.1 for Prometheus, curl and a browser: ``GET``
or ``HEAD /metrics``, one request per connection. Every process started
by ``almanac serve`` runs one when ``metrics_port`` is set, and prints
``METRICS <name> <host:port>`` so that a parent (a test) learns a port 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    disable_created_metrics,
    generate_latest,
)

from services.runtime import metrics
from services.runtime.config import Settings

__all__ = ["Exporter", "start_exporter"]

_log = logging.getLogger("almanac.metrics")

# A scraper that sends nothing must not hold a connection for ever.
_READ_TIMEOUT = 10.0
_MAX_HEADER_LINES = 100


@dataclass
class Exporter:
    """A running ``/metrics`` endpoint."""

    server: asyncio.Server
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


def _reply(status: str, content_type: str, body: bytes, head: bool) -> bytes:
    headers = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode("ascii")
    return headers if head else headers + body


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str]:
    """The method and path of the request; its headers are read and ignored."""
    line = await reader.readline()
    parts = line.decode("latin-1").split()
    for _ in range(_MAX_HEADER_LINES):
        if (await reader.readline()).strip() == b"":
            break
    if len(parts) < 2:
        return "", ""
    return parts[0], parts[1]


async def _render() -> bytes:
    await metrics.refresh()
    return generate_latest(REGISTRY)


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        method, target = await asyncio.wait_for(_read_request(reader), _READ_TIMEOUT)
        path = target.partition("?")[0]
        text = "text/plain; charset=utf-8"
        if path != "/metrics":
            reply = _reply("404 Not Found", text, b"only /metrics is served here\n", False)
        elif method not in ("GET", "HEAD"):
            reply = _reply("405 Method Not Allowed", text, b"GET /metrics\n", False)
        else:
            reply = _reply("200 OK", CONTENT_TYPE_LATEST, await _render(), method == "HEAD")
        writer.write(reply)
        await writer.drain()
    except (TimeoutError, ConnectionError):
        pass  # the scraper went away or never asked: nothing to answer
    except Exception:
        _log.exception("serving /metrics failed")
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def start_exporter(settings: Settings, name: str) -> Exporter | None:
    """Serve ``/metrics`` on ``settings.metrics_port`` (None: metrics off).

    Also installs the connector-level metrics of the process. Raises OSError
    when the port cannot be bound, so a misconfigured process fails at start.
    """
    if settings.metrics_port is None:
        return None
    # The *_created series double every counter and histogram for a start
    # time that Prometheus infers from resets anyway.
    disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client
    metrics.install()
    server = await asyncio.start_server(_handle, settings.host, settings.metrics_port)
    port = server.sockets[0].getsockname()[1]
    exporter = Exporter(server, settings.host, port)
    _log.info("almanac-%s metrics on http://%s/metrics", name, exporter.address)
    # Parents (almanac up, tests) read this line to learn a port 0.
    print(f"METRICS {name} {exporter.address}", flush=True)
    return exporter
