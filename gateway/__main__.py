"""``python -m gateway --target almanac.v1.CalendarService=127.0.0.1:50052 ...``

Runs the REST gateway alone. Prints ``READY gateway http://host:port`` once
it accepts connections (tests and ``almanac up`` read that line).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import uvloop

from gateway.options import GatewayOptions
from gateway.server import serve


def _target(text: str) -> tuple[str, str]:
    name, sep, address = text.partition("=")
    if not sep or not name or not address:
        raise argparse.ArgumentTypeError(f"expected SERVICE=HOST:PORT[,HOST:PORT...], got {text!r}")
    return name, address


def _parse(argv: Sequence[str] | None) -> tuple[dict[str, str], GatewayOptions]:
    parser = argparse.ArgumentParser(prog="python -m gateway", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument(
        "--target", type=_target, action="append", required=True,
        metavar="SERVICE=HOST:PORT[,HOST:PORT...]",
        help="a gRPC service (full name) and the addresses of its replicas; repeatable",
    )  # fmt: skip
    parser.add_argument("--timeout", type=float, default=30.0, help="default unary deadline (s)")
    parser.add_argument(
        "--cors-origin", action="append", default=[], help="allowed origin (repeatable; '*': any)"
    )
    parser.add_argument("--gzip-min-bytes", type=int, default=1024, help="0 disables gzip")
    parser.add_argument("--no-docs", action="store_true", help="no /openapi.json and /docs")
    parser.add_argument(
        "--proto-module", action="append", default=[], help="import these *_pb2 modules too"
    )
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    options = GatewayOptions(
        host=args.host,
        port=args.port,
        default_timeout=args.timeout,
        cors_origins=tuple(args.cors_origin),
        gzip_min_bytes=args.gzip_min_bytes,
        docs=not args.no_docs,
        proto_modules=tuple(args.proto_module),
        log_level=args.log_level,
    )
    return dict(args.target), options


def main(argv: Sequence[str] | None = None) -> int:
    targets, options = _parse(argv)

    def ready(url: str) -> None:
        print(f"READY gateway {url}", flush=True)

    uvloop.run(serve(targets, options, on_ready=ready))
    return 0


if __name__ == "__main__":
    sys.exit(main())
