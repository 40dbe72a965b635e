"""The gateway's ASGI application and its assembly from the descriptors.

``build_app(targets, options)`` looks up each target service in the default
descriptor pool (the ``almanac.v1`` bindings, plus ``options.proto_modules``),
builds the routes from their ``google.api.http`` rules, the OpenAPI document
and the docs page, and returns the ASGI callable. Only services with a target
are routed, so the document lists exactly what answers.

Why raw ASGI on uvicorn (httptools + uvloop): the gateway's work per request
is protobuf JSON and a grpc.aio call; the HTTP layer should add as little as
possible. uvicorn's httptools parser and uvloop are the fastest pure-ASGI
pairing short of Granian (reference D4), and owning the router avoids a
framework's per-request routing and middleware layers.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from gateway.asgi import Receive, Request, Scope, Send, send_error, send_response
from gateway.backends import Backends
from gateway.comments import comments_for
from gateway.cors import Cors
from gateway.docs import DocsAssets, load_docs
from gateway.errors import GatewayError
from gateway.handler import call_unary
from gateway.metadata import incoming_metadata
from gateway.openapi import build_openapi
from gateway.options import GatewayOptions
from gateway.routes import Router, bindings_of
from gateway.streaming import call_stream
from gateway.transcode import build_request

__all__ = ["GatewayApp", "build_app"]

_log = logging.getLogger("almanac.gateway")

_BASE_MODULES = (
    "almanac.v1.account_service_pb2",
    "almanac.v1.calendar_service_pb2",
    "almanac.v1.event_service_pb2",
    "almanac.v1.contact_service_pb2",
    "almanac.v1.resource_service_pb2",
    "almanac.v1.availability_service_pb2",
    "almanac.v1.activity_service_pb2",
    "almanac.v1.options_pb2",
    # Rich error details must be in the pool to be rendered as JSON.
    "google.rpc.error_details_pb2",
)


def _scope_of(method: MethodDescriptor) -> str | None:
    """The scope the method needs ("" any token); None when it needs no token."""
    try:
        extension = importlib.import_module("almanac.v1.options_pb2").method_auth
    except (ImportError, AttributeError):
        return ""
    options = method.GetOptions()
    if not options.HasExtension(extension):
        return ""
    auth = options.Extensions[extension]
    return None if auth.public else str(auth.scope)


def _proto_roots(services: list[ServiceDescriptor]) -> list[Path]:
    """Folders that may hold the .proto sources: each binding module's package root."""
    roots: list[Path] = []
    for service in services:
        module = importlib.import_module(
            service.file.name.removesuffix(".proto").replace("/", ".") + "_pb2"
        )
        depth = service.file.name.count("/")
        root = Path(module.__file__ or ".").resolve().parents[depth]
        if root not in roots:
            roots.append(root)
    return roots


class GatewayApp:
    """The ASGI callable: docs, OpenAPI, then the transcoded routes."""

    def __init__(self, targets: Mapping[str, str], options: GatewayOptions) -> None:
        for name in (*_BASE_MODULES, *options.proto_modules):
            importlib.import_module(name)
        pool = descriptor_pool.Default()
        self.options = options
        self.services = [pool.FindServiceByName(name) for name in targets]
        bindings = bindings_of(m for s in self.services for m in s.methods)
        self.router = Router(bindings)
        self.backends = Backends(targets)
        self.cors = Cors(options.cors_origins)
        self.openapi_json = b""
        self.docs: DocsAssets | None = None
        if options.docs:
            comments = comments_for({s.file for s in self.services}, _proto_roots(self.services))
            document = build_openapi(
                self.router.bindings, self.services, comments, options.title,
                options.version, _scope_of,
            )  # fmt: skip
            self.openapi_json = json.dumps(document, separators=(",", ":")).encode()
            self.docs = load_docs(options.title)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets
        request = Request(scope, receive)
        try:
            await self._dispatch(request, send)
        except GatewayError as err:
            await send_error(send, request, err)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.backends.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _dispatch(self, request: Request, send: Send) -> None:
        if self.cors.enabled and self.cors.apply(request):
            if request.method == "OPTIONS" and request.header(b"access-control-request-method"):
                await self.cors.preflight(request, send, self.router.allowed(request.raw_path))
                return
        if request.method in ("GET", "HEAD") and await self._static(request, send):
            return
        binding, found = self.router.find(request.method, request.raw_path)
        incoming = incoming_metadata(
            request.headers, request.client, _host(request), _access_token(request.query)
        )
        raw_body = b""
        if binding.body:
            raw_body = await request.body(self.options.max_body_bytes)
        transcoded = build_request(
            binding, found.variables, raw_body, request.query,
            request.header(b"content-type"), incoming,
        )  # fmt: skip
        call = call_stream if binding.method.server_streaming else call_unary
        await call(self.backends, self.options, request, send, binding, transcoded, incoming)

    async def _static(self, request: Request, send: Send) -> bool:
        path = request.raw_path
        if self.docs is None:
            return False
        if path == "/openapi.json":
            await send_response(send, request, 200, self.openapi_json, gzip_min=1024)
            return True
        if path == "/docs":
            await send_response(send, request, 200, self.docs.page, b"text/html; charset=utf-8")
            return True
        asset = (
            self.docs.files.get(path.removeprefix("/docs/")) if path.startswith("/docs/") else None
        )
        if asset is None:
            return False
        headers = [(b"cache-control", b"public, max-age=86400")]
        if request.accepts_gzip():
            headers += [(b"content-encoding", b"gzip"), (b"vary", b"accept-encoding")]
            await send_response(send, request, 200, asset.gzipped, asset.content_type, headers)
        else:
            await send_response(send, request, 200, asset.body, asset.content_type, headers)
        return True


def _access_token(query: bytes) -> str | None:
    if b"access_token=" not in query:
        return None
    for key, value in parse_qsl(query.decode("latin-1")):
        if key == "access_token":
            return value
    return None


def _host(request: Request) -> str | None:
    value = request.header(b"host")
    return value.decode("latin-1") if value else None


def build_app(targets: Mapping[str, str], options: GatewayOptions | None = None) -> GatewayApp:
    """The gateway for these targets: gRPC service full name → ``host:port``."""
    if not targets:
        raise ValueError("the gateway needs at least one target service")
    return GatewayApp(targets, options or GatewayOptions())


def describe(app: GatewayApp) -> list[dict[str, Any]]:
    """The routes, for logs and ``--list-routes``."""
    return [
        {"method": b.http_method, "path": b.template.source, "rpc": b.method.grpc_path}
        for b in app.router.bindings
    ]
