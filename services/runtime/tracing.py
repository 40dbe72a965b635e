"""OpenTelemetry for the services: provider set-up and the per-RPC server span.

``otel_exporter = none`` installs nothing and `setup_tracing` returns a
`Tracing` whose ``tracer`` is ``None``, so the interceptor skips tracing
entirely (not even no-op spans). ``console`` prints spans as they end;
``otlp`` batches them to a collector over gRPC.

Spans are made with the OTel API directly rather than
opentelemetry-instrumentation-grpc: its aio interceptor breaks on
``context.write`` streams (open-telemetry/opentelemetry-python-contrib#3066)
and records status 0 for ``abort_with_status`` errors.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextvars import Token
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from typing import TYPE_CHECKING

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

if TYPE_CHECKING:
    # The SDK is imported only when tracing is on (setup_tracing): with
    # `otel_exporter = none` it is resident memory for nothing.
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

from services.runtime.config import Settings

__all__ = ["SERVER_ERROR_CODES", "RpcSpan", "RpcTracer", "Tracing", "setup_tracing"]

_log = logging.getLogger("almanac.tracing")

# OTel semantic conventions: on the server side only these codes make the
# span an error; NOT_FOUND and friends are the client's problem.
SERVER_ERROR_CODES = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


@dataclass
class Tracing:
    """The tracing state of one process; ``tracer`` is None when tracing is off."""

    tracer: trace.Tracer | None
    provider: TracerProvider | None

    def force_flush(self, timeout_millis: int = 5000) -> None:
        if self.provider is not None:
            self.provider.force_flush(timeout_millis)

    def shutdown(self) -> None:
        """Flush pending spans and stop exporting (idempotent)."""
        if self.provider is not None:
            provider, self.provider, self.tracer = self.provider, None, None
            provider.shutdown()


def _version() -> str:
    try:
        return importlib_metadata.version("almanac")
    except importlib_metadata.PackageNotFoundError:
        return "0+unknown"


def setup_tracing(
    settings: Settings,
    service: str,
    *,
    exporter: SpanExporter | None = None,
    install_global: bool = True,
) -> Tracing:
    """Build the tracer provider for ``almanac-<service>``.

    ``exporter`` replaces the configured one (tests pass an in-memory
    exporter; it is flushed synchronously). With ``install_global`` the
    provider also becomes the process-wide one, so spans that connectors
    start with ``trace.get_tracer`` join the RPC's trace; OTel allows that
    only once per process, later calls keep the first.
    """
    if exporter is None and settings.otel_exporter == "none":
        return Tracing(tracer=None, provider=None)
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )

    resource = Resource.create(
        {"service.name": f"almanac-{service}", "service.version": _version()}
    )
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif settings.otel_exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    else:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        endpoint = settings.otel_endpoint
        otlp = OTLPSpanExporter(endpoint=endpoint, insecure=endpoint.startswith("http://"))
        provider.add_span_processor(BatchSpanProcessor(otlp))
    if install_global:
        if isinstance(trace.get_tracer_provider(), TracerProvider):
            _log.debug("a global tracer provider is already installed; keeping it")
        else:
            trace.set_tracer_provider(provider)
    return Tracing(tracer=provider.get_tracer("almanac.services", _version()), provider=provider)


def _split_method(full_method: str) -> tuple[str, str, str]:
    # "/almanac.v1.EventService/GetEvent" -> span name, rpc.service, rpc.method
    name = full_method.lstrip("/")
    service, _, method = name.rpartition("/")
    return name, service, method


def _peer_attributes(peer: str) -> dict[str, str | int]:
    # grpc peers look like "ipv4:127.0.0.1:5555" or "ipv6:[::1]:5555".
    kind, _, rest = peer.partition(":")
    if kind not in ("ipv4", "ipv6"):
        return {}
    host, _, port = rest.rpartition(":")
    attrs: dict[str, str | int] = {"client.address": host.strip("[]")}
    if port.isdigit():
        attrs["client.port"] = int(port)
    return attrs


@dataclass(slots=True)
class RpcSpan:
    """A started server span and the context token to detach when it ends."""

    span: Span
    token: Token[otel_context.Context]


class RpcTracer:
    """Starts and ends the SERVER span of each RPC."""

    __slots__ = ("_names", "_tracer")

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer
        self._names: dict[str, tuple[str, str, str]] = {}

    def start(
        self,
        full_method: str,
        metadata: Iterable[tuple[str, str | bytes]],
        peer: str,
        request_id: str,
    ) -> RpcSpan:
        names = self._names.get(full_method)
        if names is None:
            names = self._names[full_method] = _split_method(full_method)
        name, service, method = names
        carrier = {k: v for k, v in metadata if isinstance(v, str)}
        parent = propagate.extract(carrier)
        span = self._tracer.start_span(
            name,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "rpc.system": "grpc",
                "rpc.service": service,
                "rpc.method": method,
                "almanac.request_id": request_id,
                **_peer_attributes(peer),
            },
        )
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        return RpcSpan(span, token)

    @staticmethod
    def finish(
        rpc_span: RpcSpan, code: grpc.StatusCode, error: BaseException | None = None
    ) -> None:
        span = rpc_span.span
        try:
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            if code in SERVER_ERROR_CODES:
                span.set_status(Status(StatusCode.ERROR, code.name))
                if error is not None:
                    span.record_exception(error)
            span.end()
        finally:
            otel_context.detach(rpc_span.token)
