"""The single-process shape: ``almanac up --single-process`` (see `process`)."""

from __future__ import annotations

import sys

import uvloop

from services.runtime.config import Settings

__all__ = ["run_single"]


def run_single(settings: Settings) -> int:
    """Serve the whole suite in this process until SIGTERM/SIGINT."""
    if settings.tls_enabled:
        # The one port tells gRPC from HTTP by the first bytes, which TLS hides.
        print(
            "almanac: --single-process does not speak TLS; terminate TLS in front of it "
            "or run one process per service",
            file=sys.stderr,
        )
        return 2
    from services.single.process import serve_single  # the gateway's imports come with it

    def ready(address: str) -> None:
        print(f"READY single {address}", flush=True)
        print(f"\nAlmanac is up in one process (store: {settings.store_url}):")
        print(f"  gRPC (every service)             {address}")
        print(f"  REST gateway (HTTP/JSON)         http://{address}  (docs: /docs)")
        print("Press Ctrl-C to stop.\n", flush=True)

    uvloop.run(serve_single(settings, ready))
    return 0
