"""The test echo servicer and an in-memory authenticator."""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any

import grpc

from connectors import errors as ce
from services.runtime.errors import ServiceError
from services.runtime.interceptors import request_id
from services.runtime.principal import Principal, principal

ECHO_SERVICE = "almanac.testing.EchoService"

Ctx = grpc.aio.ServicerContext[Any, Any]

TOKENS = {
    "reader": Principal("tok-reader", frozenset({"calendars:read"}), frozenset({"acc1"})),
    "writer": Principal("tok-writer", frozenset({"calendars:write"}), None),
    "cal-admin": Principal("tok-cal-admin", frozenset({"calendars:admin"}), None),
    "contacts": Principal("tok-contacts", frozenset({"contacts:read"}), None),
    "admin": Principal("tok-admin", frozenset({"admin"}), None),
}


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


class InMemoryAuthenticator:
    """Tokens from a dict; ``revoked`` is a known but revoked token."""

    def __init__(self, tokens: dict[str, Principal]) -> None:
        self.tokens = tokens
        self.calls = 0

    async def __call__(self, token: str | None) -> Principal:
        self.calls += 1
        if token is None:
            raise ce.Unauthenticated("a bearer token is required", reason="MISSING_TOKEN")
        if token == "revoked":
            raise ce.Unauthenticated("the token was revoked", reason="TOKEN_REVOKED")
        found = self.tokens.get(token)
        if found is None:
            raise ce.Unauthenticated("unknown token", reason="INVALID_TOKEN")
        return found


def make_error(name: str) -> Exception:
    """The exception the Fail RPC (and failing streams) raise, by name."""
    return {
        "NotFound": ce.NotFound("event e1 not found"),
        "AlreadyExists": ce.AlreadyExists("calendar c1 already exists"),
        "EtagMismatch": ce.EtagMismatch("etag mismatch", metadata={"etag": '"3"'}),
        "PermissionDenied": ce.PermissionDenied("backend refused"),
        "Unauthenticated": ce.Unauthenticated("backend credentials expired"),
        "RateLimited": ce.RateLimited("slow down", retry_after=2.5),
        "Unavailable": ce.Unavailable("backend down"),
        "Unsupported": ce.Unsupported("this backend has no contacts"),
        "InvalidArgument": ce.InvalidArgument(
            violations=[("event.start", "is required"), ("page_size", "must not be negative")]
        ),
        "ConnectorError": ce.ConnectorError("backend said something odd"),
        "ServiceError": ServiceError(
            grpc.StatusCode.FAILED_PRECONDITION, "calendar is not empty", reason="NOT_EMPTY"
        ),
        "custom": ce.NotFound("gone", reason="CALENDAR_DELETED", metadata={"calendar": "c1"}),
    }.get(name) or RuntimeError("secret internals: password=hunter2")


class EchoServicer:
    """Implements almanac.testing.EchoService on the generated messages."""

    def __init__(self, pb2: ModuleType) -> None:
        self.pb2 = pb2
        self.closed_streams = 0  # async-generator finally blocks that ran

    def _reply(self, message: str, index: int = 0) -> Any:
        return self.pb2.EchoResponse(
            message=message,
            token_id=principal().token_id,
            request_id=request_id() or "",
            index=index,
        )

    async def Echo(self, request: Any, context: Ctx) -> Any:
        return self._reply(request.message)

    async def Whoami(self, request: Any, context: Ctx) -> Any:
        return self._reply(request.message)

    async def NoOption(self, request: Any, context: Ctx) -> Any:
        return self._reply("should never run")

    async def AdminOnly(self, request: Any, context: Ctx) -> Any:
        return self._reply(request.message)

    async def Fail(self, request: Any, context: Ctx) -> Any:
        if request.fail == "abort":
            await context.abort(grpc.StatusCode.OUT_OF_RANGE, "aborted by the handler")
        if request.fail == "none":
            return None
        raise make_error(request.fail)

    async def EchoStream(self, request: Any, context: Ctx) -> Any:
        try:
            for i in range(request.count):
                if request.fail and i == request.fail_after:
                    raise make_error(request.fail)
                yield self._reply(request.message, i)
                if request.delay_ms:
                    await asyncio.sleep(request.delay_ms / 1000)
        finally:
            self.closed_streams += 1

    async def EchoWrite(self, request: Any, context: Ctx) -> None:
        for i in range(request.count):
            if request.fail and i == request.fail_after:
                raise make_error(request.fail)
            await context.write(self._reply(request.message, i))
            if request.delay_ms:
                await asyncio.sleep(request.delay_ms / 1000)
