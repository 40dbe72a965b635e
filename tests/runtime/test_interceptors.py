"""The interceptor chain through a real server: auth, errors, streams, request ids, log."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from services.runtime.errors import DOMAIN, INTERNAL_MESSAGE
from services.runtime.server import RunningServer

from .echo import EchoServicer, bearer

C = grpc.StatusCode


async def failed(call: Any) -> tuple[grpc.StatusCode, status_pb2.Status | None]:
    """Await a call that must fail; its code and decoded rich status."""
    with pytest.raises(grpc.aio.AioRpcError):
        if hasattr(call, "__aiter__"):
            async for _ in call:
                pass
        else:
            await call
    return await call.code(), await rpc_status.aio.from_call(call)


def details_of(status: status_pb2.Status) -> dict[str, Any]:
    """The unpacked detail messages by type name (asserting each type appears once)."""
    out: dict[str, Any] = {}
    for any_msg in status.details:
        for cls in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.BadRequest,
            error_details_pb2.RetryInfo,
        ):
            if any_msg.Is(cls.DESCRIPTOR):
                msg = cls()
                any_msg.Unpack(msg)
                assert cls.__name__ not in out, f"two {cls.__name__} details"
                out[cls.__name__] = msg
    return out


def req(echo_pb: Any, **kw: Any) -> Any:
    return echo_pb[0].EchoRequest(**kw)


def sreq(echo_pb: Any, **kw: Any) -> Any:
    return echo_pb[0].EchoStreamRequest(**kw)


# --- authentication and scopes -------------------------------------------------


async def test_echo_with_read_scope(stub: Any, echo_pb: Any) -> None:
    reply = await stub.Echo(req(echo_pb, message="hi"), metadata=bearer("reader"))
    assert reply.message == "hi"
    assert reply.token_id == "tok-reader"


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ((), "MISSING_TOKEN"),
        (bearer("nope"), "INVALID_TOKEN"),
        (bearer("revoked"), "TOKEN_REVOKED"),
        ((("authorization", "Basic dXNlcjpwdw=="),), "MALFORMED_AUTHORIZATION"),
        ((("authorization", "Bearer "),), "MALFORMED_AUTHORIZATION"),
    ],
)
async def test_unauthenticated(stub: Any, echo_pb: Any, metadata: Any, reason: str) -> None:
    code, status = await failed(stub.Echo(req(echo_pb), metadata=metadata))
    assert code is C.UNAUTHENTICATED
    assert status is not None
    info = details_of(status)["ErrorInfo"]
    assert (info.domain, info.reason) == (DOMAIN, reason)


async def test_unauthenticated_on_stream_too(stub: Any, echo_pb: Any) -> None:
    code, _ = await failed(stub.EchoStream(sreq(echo_pb, count=3)))
    assert code is C.UNAUTHENTICATED


async def test_wrong_scope_is_permission_denied(stub: Any, echo_pb: Any) -> None:
    code, status = await failed(stub.Echo(req(echo_pb), metadata=bearer("contacts")))
    assert code is C.PERMISSION_DENIED
    assert status is not None and "calendars:read" in status.message
    info = details_of(status)["ErrorInfo"]
    assert info.reason == "MISSING_SCOPE" and info.metadata["scope"] == "calendars:read"


@pytest.mark.parametrize("token", ["writer", "cal-admin", "admin"])
async def test_higher_scopes_satisfy_read(stub: Any, echo_pb: Any, token: str) -> None:
    reply = await stub.Echo(req(echo_pb, message="x"), metadata=bearer(token))
    assert reply.message == "x"


async def test_write_does_not_satisfy_admin(stub: Any, echo_pb: Any) -> None:
    code, _ = await failed(stub.AdminOnly(req(echo_pb), metadata=bearer("writer")))
    assert code is C.PERMISSION_DENIED
    reply = await stub.AdminOnly(req(echo_pb, message="ok"), metadata=bearer("admin"))
    assert reply.message == "ok"


async def test_empty_scope_accepts_any_valid_token(stub: Any, echo_pb: Any) -> None:
    reply = await stub.Whoami(req(echo_pb), metadata=bearer("contacts"))
    assert reply.token_id == "tok-contacts"
    code, _ = await failed(stub.Whoami(req(echo_pb)))
    assert code is C.UNAUTHENTICATED


async def test_method_without_option_is_denied(stub: Any, echo_pb: Any) -> None:
    code, status = await failed(stub.NoOption(req(echo_pb), metadata=bearer("admin")))
    assert code is C.PERMISSION_DENIED
    assert status is not None and details_of(status)["ErrorInfo"].reason == "NO_AUTH_POLICY"


async def test_unknown_method_is_unimplemented(channel: grpc.aio.Channel) -> None:
    method: Any = channel.unary_unary("/almanac.testing.EchoService/Nope")
    call = method(b"", metadata=bearer("admin"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() is C.UNIMPLEMENTED


# --- error mapping ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code", "reason"),
    [
        ("NotFound", C.NOT_FOUND, "NOT_FOUND"),
        ("AlreadyExists", C.ALREADY_EXISTS, "ALREADY_EXISTS"),
        ("EtagMismatch", C.ABORTED, "ETAG_MISMATCH"),
        ("PermissionDenied", C.PERMISSION_DENIED, "PERMISSION_DENIED"),
        ("Unauthenticated", C.UNAUTHENTICATED, "UNAUTHENTICATED"),
        ("RateLimited", C.RESOURCE_EXHAUSTED, "RATE_LIMITED"),
        ("Unavailable", C.UNAVAILABLE, "BACKEND_UNAVAILABLE"),
        ("Unsupported", C.UNIMPLEMENTED, "UNSUPPORTED"),
        ("InvalidArgument", C.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        ("ConnectorError", C.INTERNAL, "BACKEND_ERROR"),
        ("ServiceError", C.FAILED_PRECONDITION, "NOT_EMPTY"),
        ("custom", C.NOT_FOUND, "CALENDAR_DELETED"),
    ],
)
async def test_errors_map_to_codes(
    stub: Any, echo_pb: Any, name: str, code: grpc.StatusCode, reason: str
) -> None:
    got, status = await failed(stub.Fail(req(echo_pb, fail=name), metadata=bearer("reader")))
    assert got is code
    assert status is not None and status.code == code.value[0]
    info = details_of(status)["ErrorInfo"]
    assert info.domain == DOMAIN and info.reason == reason
    assert re.fullmatch(r"[A-Z][A-Z0-9_]+[A-Z0-9]", info.reason)


async def test_error_metadata_and_retry_info(stub: Any, echo_pb: Any) -> None:
    _, status = await failed(stub.Fail(req(echo_pb, fail="custom"), metadata=bearer("reader")))
    assert status is not None
    assert dict(details_of(status)["ErrorInfo"].metadata) == {"calendar": "c1"}
    _, status = await failed(stub.Fail(req(echo_pb, fail="RateLimited"), metadata=bearer("reader")))
    assert status is not None
    delay = details_of(status)["RetryInfo"].retry_delay
    assert (delay.seconds, delay.nanos) == (2, 500_000_000)


async def test_invalid_argument_has_one_bad_request(stub: Any, echo_pb: Any) -> None:
    _, status = await failed(
        stub.Fail(req(echo_pb, fail="InvalidArgument"), metadata=bearer("reader"))
    )
    assert status is not None
    bad = details_of(status)["BadRequest"]
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("event.start", "is required"),
        ("page_size", "must not be negative"),
    ]
    assert "event.start" in status.message and "page_size" in status.message


async def test_unexpected_exception_is_internal_without_details(
    stub: Any, echo_pb: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="almanac.server"):
        code, status = await failed(stub.Fail(req(echo_pb, fail="boom"), metadata=bearer("reader")))
    assert code is C.INTERNAL
    assert status is not None and status.message == INTERNAL_MESSAGE
    assert "hunter2" not in str(status) and "RuntimeError" not in str(status)
    assert details_of(status)["ErrorInfo"].reason == "INTERNAL"
    logged = [r for r in caplog.records if r.name == "almanac.server" and r.exc_info]
    assert logged and "hunter2" in str(logged[0].exc_info[1])  # type: ignore[index]


async def test_handler_returning_none_is_internal(stub: Any, echo_pb: Any) -> None:
    code, _ = await failed(stub.Fail(req(echo_pb, fail="none"), metadata=bearer("reader")))
    assert code is C.INTERNAL


async def test_direct_abort_passes_through(
    stub: Any, echo_pb: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="almanac.access"):
        call = stub.Fail(req(echo_pb, fail="abort"), metadata=bearer("reader"))
        code, _ = await failed(call)
        assert code is C.OUT_OF_RANGE
        assert await call.details() == "aborted by the handler"
        # The server logs after the status is on the wire: allow it a moment.
        await _logged(caplog, "/Fail OUT_OF_RANGE")


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> None:
    async with asyncio.timeout(2.0):
        # A log buffer has no event to wait on; polling it briefly is the point.
        while not any(text in r.getMessage() for r in caplog.records):  # noqa: ASYNC110
            await asyncio.sleep(0.01)


# --- streams ------------------------------------------------------------------------


@pytest.mark.parametrize("rpc", ["EchoStream", "EchoWrite"])
async def test_stream_sees_principal_and_request_id(stub: Any, echo_pb: Any, rpc: str) -> None:
    call = getattr(stub, rpc)(
        sreq(echo_pb, message="m", count=3),
        metadata=(*bearer("writer"), ("x-request-id", "stream-rid-1")),
    )
    replies = [r async for r in call]
    assert [r.index for r in replies] == [0, 1, 2]
    assert {r.token_id for r in replies} == {"tok-writer"}
    assert {r.request_id for r in replies} == {"stream-rid-1"}
    assert ("x-request-id", "stream-rid-1") in tuple(await call.initial_metadata())
    assert await call.code() is C.OK


@pytest.mark.parametrize("rpc", ["EchoStream", "EchoWrite"])
async def test_stream_error_midway(stub: Any, echo_pb: Any, rpc: str) -> None:
    call = getattr(stub, rpc)(
        sreq(echo_pb, count=5, fail="EtagMismatch", fail_after=2), metadata=bearer("reader")
    )
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for reply in call:
            received.append(reply.index)
    assert received == [0, 1]
    assert err.value.code() is C.ABORTED
    status = await rpc_status.aio.from_call(call)
    assert details_of(status)["ErrorInfo"].reason == "ETAG_MISMATCH"


async def test_stream_unexpected_error_midway_is_internal(stub: Any, echo_pb: Any) -> None:
    call = stub.EchoStream(
        sreq(echo_pb, count=5, fail="boom", fail_after=1), metadata=bearer("reader")
    )
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for reply in call:
            received.append(reply.index)
    assert received == [0]
    assert err.value.code() is C.INTERNAL and "hunter2" not in (err.value.details() or "")


async def test_cancelled_stream_closes_generator(
    stub: Any, echo_pb: Any, echo_servicer: EchoServicer, caplog: pytest.LogCaptureFixture
) -> None:
    closed_before = echo_servicer.closed_streams
    with caplog.at_level(logging.INFO, logger="almanac.access"):
        call = stub.EchoStream(
            sreq(echo_pb, count=1000, delay_ms=20),
            metadata=(*bearer("reader"), ("x-request-id", "cancel-me")),
        )
        first = await call.read()
        assert first.index == 0
        call.cancel()
        lines: list[str] = []
        for _ in range(200):
            lines = [r.getMessage() for r in caplog.records if "cancel-me" in r.getMessage()]
            if lines and echo_servicer.closed_streams > closed_before:
                break
            await asyncio.sleep(0.01)
    # The generator's finally ran (in the RPC's task), and the RPC was logged.
    assert echo_servicer.closed_streams == closed_before + 1
    assert lines and " CANCELLED " in lines[0]


async def test_health_watch_through_interceptors(
    channel: grpc.aio.Channel, echo_server: RunningServer
) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    await echo_server.health.set("watch-me", health_pb2.HealthCheckResponse.SERVING)
    call = stub.Watch(health_pb2.HealthCheckRequest(service="watch-me"))
    first = await call.read()
    assert first.status == health_pb2.HealthCheckResponse.SERVING
    assert any(k == "x-request-id" for k, _ in await call.initial_metadata())
    await echo_server.health.set("watch-me", health_pb2.HealthCheckResponse.NOT_SERVING)
    second = await asyncio.wait_for(call.read(), 5)
    assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
    call.cancel()


async def test_health_check_unknown_service_keeps_its_code(channel: grpc.aio.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
    assert err.value.code() is C.NOT_FOUND


# --- request id and access log ---------------------------------------------------


async def test_request_id_is_echoed(stub: Any, echo_pb: Any) -> None:
    call = stub.Echo(req(echo_pb), metadata=(*bearer("reader"), ("x-request-id", "abc-123")))
    reply = await call
    assert reply.request_id == "abc-123"
    # Unary calls carry it with the status, in the same write as the reply.
    assert ("x-request-id", "abc-123") in tuple(await call.trailing_metadata())
    assert not any(k == "x-request-id" for k, _ in await call.initial_metadata())


async def test_request_id_is_generated(stub: Any, echo_pb: Any) -> None:
    call = stub.Echo(req(echo_pb), metadata=bearer("reader"))
    reply = await call
    assert re.fullmatch(r"[0-9a-f]{32}", reply.request_id)
    assert ("x-request-id", reply.request_id) in tuple(await call.trailing_metadata())


@pytest.mark.parametrize("bad", ["a b; injected=1", "x" * 300])
async def test_unsafe_request_id_is_replaced(stub: Any, echo_pb: Any, bad: str) -> None:
    reply = await stub.Echo(req(echo_pb), metadata=(*bearer("reader"), ("x-request-id", bad)))
    assert re.fullmatch(r"[0-9a-f]{32}", reply.request_id)


async def test_request_id_on_errors(stub: Any, echo_pb: Any) -> None:
    call = stub.Fail(req(echo_pb, fail="NotFound"), metadata=(("x-request-id", "err-1"),))
    await failed(call)  # unauthenticated: fails before the handler
    assert ("x-request-id", "err-1") in tuple(await call.trailing_metadata())


async def test_access_log_line(stub: Any, echo_pb: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="almanac.access"):
        await stub.Echo(req(echo_pb), metadata=(*bearer("reader"), ("x-request-id", "log-1")))
        await failed(stub.Echo(req(echo_pb), metadata=(("x-request-id", "log-2"),)))
        await _logged(caplog, "request_id=log-1")
        await _logged(caplog, "request_id=log-2")
    records = {r.request_id: r for r in caplog.records if r.name == "almanac.access"}  # type: ignore[attr-defined]
    ok, denied = records["log-1"], records["log-2"]
    assert ok.levelno == logging.INFO
    assert re.fullmatch(
        r"/almanac\.testing\.EchoService/Echo OK \d+\.\dms peer=ipv[46]:\S+ request_id=log-1",
        ok.getMessage(),
    )
    assert denied.grpc_code == "UNAUTHENTICATED"  # type: ignore[attr-defined]
    assert denied.duration_ms >= 0  # type: ignore[attr-defined]


# --- the authorizer alone -------------------------------------------------------


async def test_authorizer_requirements(echo_pb: Any) -> None:
    from services.runtime.interceptors import Authorizer

    from .echo import TOKENS, InMemoryAuthenticator

    auth = InMemoryAuthenticator(TOKENS)
    authorizer = Authorizer(auth, public_methods=["almanac.testing.EchoService/NoOption"])
    assert authorizer.requirement("/grpc.health.v1.Health/Check").public
    assert authorizer.requirement(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
    ).public
    assert authorizer.requirement("/almanac.testing.EchoService/Echo").scope == "calendars:read"
    assert authorizer.requirement("/almanac.testing.EchoService/Whoami").scope == ""
    assert authorizer.requirement("/almanac.testing.EchoService/NoOption").public
    unknown = authorizer.requirement("/no.such.Service/Method")
    assert not unknown.public and unknown.scope is None
    # Public methods never reach the authenticator.
    assert await authorizer.authorize("/grpc.health.v1.Health/Check", None) is None
    assert auth.calls == 0
    found = await authorizer.authorize("/almanac.testing.EchoService/Echo", "bearer reader")
    assert found is TOKENS["reader"]
