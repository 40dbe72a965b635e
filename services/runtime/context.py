"""What every servicer of a process shares: settings, store, registry, tokens.

Servicers stay thin by leaning on this: resolve the account (permission
before existence), find its connector, run an idempotent create.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
from almanac.v1 import account_service_pb2 as acc_pb
from google.protobuf.message import Message

from connectors.base import AccountConnector, Capability, WriteContext
from connectors.registry import Connectors
from connectors.state.accounts import Registry
from connectors.state.feeds import Subscribers
from connectors.state.idempotency import RequestReplayed, lookup, request_hash
from connectors.state.meta import deployment_secret
from connectors.store import Store, open_store
from services.runtime.config import Settings
from services.runtime.keys import open_secret_box
from services.runtime.names import resolve_account_id
from services.runtime.pagination import PageTokens
from services.runtime.principal import Principal, principal, require_account

__all__ = ["Context", "Runtime", "open_runtime"]

M = TypeVar("M", bound=Message)

# How long an account's profile (owner, default zone) is trusted per process.
_PROFILE_SECONDS = 5.0

# The servicer context of a unary call, as the servicers annotate it.
Context = grpc.aio.ServicerContext[Any, Any]

# Connector types are immutable, so a cached answer can only be stale for an
# account deleted and re-created with another connector; a few seconds bounds it.
_CONNECTOR_CACHE_SECONDS = 5.0


@dataclass
class Runtime:
    settings: Settings
    store: Store
    registry: Registry
    pages: PageTokens
    connectors: Connectors
    subscribers: Subscribers
    _profiles: dict[str, tuple[acc_pb.Account, float]] = field(default_factory=dict)

    async def aclose(self) -> None:
        await self.connectors.aclose()
        await self.store.close()

    def account(self, account: str, field_name: str = "name") -> tuple[Principal, str]:
        """Resolve ``me`` and check the token may use the account (before existence)."""
        p = principal()
        account_id = resolve_account_id(account, p, field_name)
        require_account(account_id)
        return p, account_id

    async def profile(self, account_id: str) -> acc_pb.Account:
        """The account as stored, cached a few seconds: what events default to
        (owner, time zone) changes rarely and is read on every create."""
        now = time.monotonic()
        cached = self._profiles.get(account_id)
        if cached is None or cached[1] < now:
            cached = (await self.registry.get_account(account_id), now + _PROFILE_SECONDS)
            if len(self._profiles) > 10_000:
                self._profiles.clear()
            self._profiles[account_id] = cached
        return cached[0]

    async def connector(self, account_id: str, *needs: Capability) -> AccountConnector:
        """The connector serving ``account_id``; UNIMPLEMENTED if it lacks a need."""
        return await self.connectors.connector_for(account_id, *needs)

    async def idempotent(
        self,
        request: Message,
        method: str,
        result_type: type[M],
        create: Callable[[WriteContext], Awaitable[M]],
        replayed: Callable[[bytes], M] | None = None,
    ) -> M:
        """Run ``create`` once per ``request.request_id`` (AIP-155).

        A retry gets the first result, or what ``replayed`` makes of the
        stored bytes (it may raise instead, when the result cannot be shown twice).
        """
        p = principal()
        request_id: str = getattr(request, "request_id", "")
        if not request_id:
            return await create(WriteContext(actor=p.token_id))
        scope = f"{p.token_id}|{method}"
        digest = request_hash(request)
        again = replayed or result_type.FromString
        stored = await lookup(self.store, scope, request_id, digest)
        if stored is not None:
            return again(stored)
        ctx = WriteContext(p.token_id, request_id, digest, scope)
        try:
            return await create(ctx)
        except RequestReplayed:
            # A concurrent retry claimed the id first. Read it in a transaction:
            # on SQLite the claim may still sit in an uncommitted group, which
            # only a transaction sees (and the block ends after that COMMIT).
            async with self.store.transaction() as tx:
                stored = await lookup(tx, scope, request_id, digest)
            if stored is None:
                raise
            return again(stored)


async def open_runtime(settings: Settings) -> Runtime:
    store = await open_store(settings.store_url)
    registry = Registry(store)
    try:
        registry.secrets = await open_secret_box(settings, registry)
    except BaseException:
        await store.close()
        raise
    if settings.bootstrap_token:
        await registry.bootstrap(settings.bootstrap_token)
    secret = settings.page_token_secret or await deployment_secret(store, "page_token_secret")
    pages = PageTokens(secret.encode())
    connectors = Connectors(
        store, registry, settings.connector_backends, settings.upstream_timeout_seconds
    )
    subscribers = Subscribers(store, dt.timedelta(days=settings.feed_inactive_days))
    return Runtime(settings, store, registry, pages, connectors, subscribers)
