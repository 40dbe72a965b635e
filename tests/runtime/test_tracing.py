"""Server spans: one per RPC, named by method, with the right status code."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from services.runtime.config import Settings
from services.runtime.server import RunningServer
from services.runtime.tracing import setup_tracing

from .conftest import make_settings, start_echo
from .echo import bearer

EXPORTER = InMemorySpanExporter()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def traced(echo_pb: Any) -> AsyncIterator[tuple[RunningServer, Any]]:
    tracing = setup_tracing(make_settings(), "echo", exporter=EXPORTER, install_global=False)
    running = await start_echo(echo_pb, tracing=tracing)
    async with grpc.aio.insecure_channel(running.address) as ch:
        yield running, ch
    await running.shutdown(grace=0)


def spans_for(rid: str) -> list[ReadableSpan]:
    return [
        s
        for s in EXPORTER.get_finished_spans()
        if s.attributes and s.attributes.get("almanac.request_id") == rid
    ]


async def finished_spans(rid: str) -> list[ReadableSpan]:
    """The request's spans once it has one: the server ends its span after the
    reply is on its way, so a loaded machine can show the reply first."""
    for _ in range(500):  # up to 5 s
        if found := spans_for(rid):
            return found
        await asyncio.sleep(0.01)
    return []


async def _call(call: Any) -> None:
    try:
        if hasattr(call, "__aiter__"):
            async for _ in call:
                pass
        else:
            await call
    except grpc.aio.AioRpcError:
        pass


@pytest.mark.parametrize(
    ("rpc", "kwargs", "code", "error"),
    [
        ("Echo", {}, 0, False),
        ("Fail", {"fail": "NotFound"}, 5, False),
        ("Fail", {"fail": "InvalidArgument"}, 3, False),
        ("Fail", {"fail": "boom"}, 13, True),
        ("Fail", {"fail": "Unavailable"}, 14, True),
        ("Fail", {"fail": "abort"}, 11, False),
        ("NoOption", {}, 7, False),
    ],
)
async def test_span_per_unary_rpc(
    traced: Any, echo_pb: Any, rpc: str, kwargs: dict[str, str], code: int, error: bool
) -> None:
    _, ch = traced
    rid = f"trace-{rpc}-{kwargs.get('fail', '')}"
    stub = echo_pb[1].EchoServiceStub(ch)
    await _call(
        getattr(stub, rpc)(
            echo_pb[0].EchoRequest(**kwargs), metadata=(*bearer("admin"), ("x-request-id", rid))
        )
    )
    (span,) = await finished_spans(rid)
    assert span.name == f"almanac.testing.EchoService/{rpc}"
    assert span.kind is SpanKind.SERVER
    attrs = dict(span.attributes or {})
    assert attrs["rpc.system"] == "grpc"
    assert attrs["rpc.service"] == "almanac.testing.EchoService"
    assert attrs["rpc.method"] == rpc
    assert attrs["rpc.grpc.status_code"] == code
    assert attrs["client.address"] == "127.0.0.1"
    assert (span.status.status_code is StatusCode.ERROR) is error
    assert span.resource.attributes["service.name"] == "almanac-echo"


async def test_span_for_stream_error_after_messages(traced: Any, echo_pb: Any) -> None:
    _, ch = traced
    stub = echo_pb[1].EchoServiceStub(ch)
    req = echo_pb[0].EchoStreamRequest(count=3, fail="EtagMismatch", fail_after=2)
    await _call(stub.EchoStream(req, metadata=(*bearer("reader"), ("x-request-id", "trace-s"))))
    (span,) = await finished_spans("trace-s")
    assert span.attributes is not None and span.attributes["rpc.grpc.status_code"] == 10


async def test_span_for_write_style_stream(traced: Any) -> None:
    running, ch = traced
    await running.health.set("traced", health_pb2.HealthCheckResponse.SERVING)
    call = health_pb2_grpc.HealthStub(ch).Watch(
        health_pb2.HealthCheckRequest(service="traced"), metadata=(("x-request-id", "trace-w"),)
    )
    await call.read()
    call.cancel()
    for _ in range(100):
        if spans_for("trace-w"):
            break
        await asyncio.sleep(0.01)
    (span,) = spans_for("trace-w")
    assert span.name == "grpc.health.v1.Health/Watch"
    assert span.attributes is not None and span.attributes["rpc.grpc.status_code"] == 1


async def test_traceparent_is_continued(traced: Any, echo_pb: Any) -> None:
    _, ch = traced
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent = "00f067aa0ba902b7"
    await (
        echo_pb[1]
        .EchoServiceStub(ch)
        .Echo(
            echo_pb[0].EchoRequest(),
            metadata=(
                *bearer("reader"),
                ("traceparent", f"00-{trace_id}-{parent}-01"),
                ("x-request-id", "trace-parent"),
            ),
        )
    )
    (span,) = await finished_spans("trace-parent")
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None and format(span.parent.span_id, "016x") == parent
    assert span.parent.is_remote


def test_none_exporter_installs_nothing() -> None:
    tracing = setup_tracing(Settings(), "calendar")
    assert tracing.tracer is None and tracing.provider is None
    tracing.shutdown()  # harmless


@pytest.mark.parametrize("exporter", ["console", "otlp"])
def test_configured_exporters(exporter: str) -> None:
    tracing = setup_tracing(make_settings(otel_exporter=exporter), "calendar", install_global=False)
    try:
        assert tracing.tracer is not None and tracing.provider is not None
        assert tracing.provider.resource.attributes["service.name"] == "almanac-calendar"
    finally:
        tracing.shutdown()
