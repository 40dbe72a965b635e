"""Headers ↔ metadata, request ids and traces, CORS."""

from __future__ import annotations

import base64
import secrets
import time

import httpx

from tests.gateway.conftest import ORIGIN
from tests.gateway.support import Stack
from tests.helpers import ServiceProcess


def test_headers_become_metadata(feat: httpx.Client) -> None:
    trace = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
    reply = feat.get("/v1/meta", headers={
        "authorization": "Bearer abc", "grpc-metadata-tenant": "blue",
        "grpc-metadata-blob-bin": base64.b64encode(b"\x00\x01").decode(),
        "x-request-id": "req-1", "traceparent": trace, "tracestate": "k=v",
        "grpc-metadata-grpc-status": "0", "x-forwarded-for": "10.1.1.1",
        "cookie": "secret=1",
    })  # fmt: skip
    assert reply.status_code == 200, reply.text
    seen = reply.json()["metadata"]
    assert seen["authorization"] == "Bearer abc" and seen["tenant"] == "blue"
    assert base64.b64decode(seen["blob-bin"]) == b"\x00\x01"
    assert seen["x-request-id"] == "req-1"
    assert seen["traceparent"] == trace and seen["tracestate"] == "k=v"
    assert seen["x-forwarded-for"] == "10.1.1.1, 127.0.0.1"
    assert seen["x-forwarded-host"].startswith("127.0.0.1:")
    # Reserved names and arbitrary headers are not forwarded.
    assert "grpc-status" not in seen and "cookie" not in seen


def test_metadata_becomes_headers(feat: httpx.Client) -> None:
    reply = feat.get("/v1/meta")
    assert reply.headers["grpc-metadata-x-answer"] == "42"
    assert reply.headers["grpc-trailer-x-trailer"] == "done"


def test_request_id_round_trips_through_the_service(account: str, admin: httpx.Client) -> None:
    reply = admin.get(f"/v1/{account}", headers={"x-request-id": "gw-test-42"})
    assert reply.status_code == 200 and reply.headers["x-request-id"] == "gw-test-42"
    # Without one, the service mints one and the client still learns it.
    assert len(admin.get(f"/v1/{account}").headers["x-request-id"]) >= 16


def test_traceparent_joins_the_service_span(
    stack: Stack, account: str, admin: httpx.Client
) -> None:
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    reply = admin.get(f"/v1/{account}/calendars/primary", headers={"traceparent": traceparent})
    assert reply.status_code == 200
    calendar = next(p for p in stack.procs
                    if isinstance(p, ServiceProcess) and p.name == "calendar")  # fmt: skip
    deadline = time.monotonic() + 10
    while trace_id not in calendar.stdout_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)  # the console exporter writes when the span ends
    assert f"0x{trace_id}" in calendar.stdout_path.read_text()


def test_cors_for_an_allowed_origin(stack: Stack, account: str, admin: httpx.Client) -> None:
    reply = admin.get(f"/v1/{account}", headers={"origin": ORIGIN})
    assert reply.headers["access-control-allow-origin"] == ORIGIN
    assert "etag" in reply.headers["access-control-expose-headers"]
    with stack.client(None) as anonymous:
        preflight = anonymous.options(f"/v1/{account}/calendars/primary", headers={
            "origin": ORIGIN, "access-control-request-method": "PATCH",
            "access-control-request-headers": "authorization, if-match"})  # fmt: skip
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-methods"] == "DELETE, GET, PATCH"
    assert preflight.headers["access-control-allow-headers"] == "authorization, if-match"
    assert preflight.headers["access-control-allow-origin"] == ORIGIN


def test_no_cors_for_other_origins(admin: httpx.Client, account: str) -> None:
    reply = admin.get(f"/v1/{account}", headers={"origin": "http://evil.example"})
    assert reply.status_code == 200
    assert "access-control-allow-origin" not in reply.headers
    preflight = admin.options(f"/v1/{account}", headers={
        "origin": "http://evil.example", "access-control-request-method": "GET"})  # fmt: skip
    assert preflight.status_code == 405


def test_access_token_query_parameter_for_event_source(stack: Stack, account: str) -> None:
    # RFC 6750 (2.3): only when no Authorization header came (EventSource).
    token = stack.token(account, "calendars:read")
    with stack.client(None) as anonymous:
        ok = anonymous.get(f"/v1/{account}/calendars/primary", params={"access_token": token})
        assert ok.status_code == 200
        bad = anonymous.get(f"/v1/{account}/calendars/primary", params={"access_token": "nope"})
        assert bad.status_code == 401
    with stack.client(token) as http:
        # The header wins over the parameter.
        reply = http.get(f"/v1/{account}/calendars/primary", params={"access_token": "nope"})
        assert reply.status_code == 200
