"""Almanac's REST gateway: HTTP/JSON in front of the gRPC services.

Routes, OpenAPI and docs are built at start-up from the ``google.api.http``
annotations of the served services' descriptors. Start it with
`gateway.server.serve` (or ``python -m gateway``), or mount the ASGI app of
`gateway.app.build_app` in any ASGI server.
"""

from gateway.app import GatewayApp, build_app
from gateway.options import GatewayOptions
from gateway.server import serve

__all__ = ["GatewayApp", "GatewayOptions", "build_app", "serve"]
