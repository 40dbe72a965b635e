"""``python -m services.healthcheck ADDRESS [SERVICE]``: a container health probe.

Exits 0 when the process at ``ADDRESS`` is serving, 1 otherwise, so a
container's ``HEALTHCHECK`` (and compose's ``depends_on: service_healthy``)
can watch any process of the suite:

- ``host:port``: the standard gRPC health check of ``SERVICE`` ("" = the
  whole server), as a load balancer would ask it;
- ``http://host:port/...``: an HTTP GET that must answer 200 (the gateway).
"""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Sequence

__all__ = ["main", "serving"]

_TIMEOUT_S = 3.0


def _grpc_serving(address: str, service: str) -> bool:
    import grpc  # only here: the HTTP probe should not pay for grpc's import
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=_TIMEOUT_S)
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def _http_serving(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def serving(address: str, service: str = "") -> bool:
    """Whether ``address`` answers as serving (see the module doc)."""
    if address.startswith(("http://", "https://")):
        return _http_serving(address)
    return _grpc_serving(address, service)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not 1 <= len(args) <= 2:
        print(__doc__, file=sys.stderr)
        return 2
    ok = serving(args[0], args[1] if len(args) == 2 else "")
    if not ok:
        print(f"{args[0]} is not serving", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
