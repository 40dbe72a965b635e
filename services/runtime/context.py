"""What every servicer of a process shares: settings, store, registry, tokens.

Servicers stay thin by leaning on this: resolve the account (permission
before existence), find its connector, run an idempotent create.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
from almanac.v1 import account_service_pb2 as acc_pb
from google.protobuf.message import Message

from connectors.base import WriteContext
from connectors.errors import NotFound, Unsupported
from connectors.local import LocalConnector
from connectors.state.accounts import Registry
from connectors.state.idempotency import RequestReplayed, lookup, request_hash
from connectors.store import IntegrityError, Store, open_store
from services.runtime.config import Settings
from services.runtime.names import resolve_account_id
from services.runtime.pagination import PageTokens
from services.runtime.principal import Principal, principal, require_account

__all__ = ["Context", "Runtime", "open_runtime"]

M = TypeVar("M", bound=Message)

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
    _connector_types: dict[str, tuple[int, float]] = field(default_factory=dict)

    @property
    def local(self) -> LocalConnector:
        return self.registry.local

    async def aclose(self) -> None:
        await self.store.close()

    def account(self, account: str, field_name: str = "name") -> tuple[Principal, str]:
        """Resolve ``me`` and check the token may use the account (before existence)."""
        p = principal()
        account_id = resolve_account_id(account, p, field_name)
        require_account(account_id)
        return p, account_id

    async def calendars(self, account_id: str) -> LocalConnector:
        """The connector serving ``account_id``'s calendars."""
        now = time.monotonic()
        cached = self._connector_types.get(account_id)
        if cached is None or cached[1] < now:
            row = await self.store.fetchone(
                "SELECT connector FROM accounts WHERE id = ?", account_id
            )
            if row is None:
                raise NotFound(f"account accounts/{account_id} not found")
            kind: int = acc_pb.ConnectorType.Value(row["connector"])
            cached = (kind, now + _CONNECTOR_CACHE_SECONDS)
            self._connector_types[account_id] = cached
        if cached[0] == acc_pb.CONNECTOR_TYPE_LOCAL:
            return self.local
        kind_name = acc_pb.ConnectorType.Name(cached[0])  # type: ignore[arg-type]
        raise Unsupported(
            f"the {kind_name} connector is not available in this"
            " build yet; only CONNECTOR_TYPE_LOCAL accounts are served",
            reason="CONNECTOR_NOT_AVAILABLE",
        )

    async def idempotent(
        self,
        request: Message,
        method: str,
        result_type: type[M],
        create: Callable[[WriteContext], Awaitable[M]],
    ) -> M:
        """Run ``create`` once per ``request.request_id`` (AIP-155)."""
        p = principal()
        request_id: str = getattr(request, "request_id", "")
        if not request_id:
            return await create(WriteContext(actor=p.token_id))
        scope = f"{p.token_id}|{method}"
        digest = request_hash(request)
        stored = await lookup(self.store, scope, request_id, digest)
        if stored is not None:
            return result_type.FromString(stored)
        ctx = WriteContext(p.token_id, request_id, digest, scope)
        try:
            return await create(ctx)
        except RequestReplayed:
            stored = await lookup(self.store, scope, request_id, digest)
            if stored is None:
                raise
            return result_type.FromString(stored)


async def _page_secret(store: Store, configured: str) -> bytes:
    """The page-token key: configured, else one per deployment kept in the store."""
    if configured:
        return configured.encode()
    row = await store.fetchone("SELECT value FROM meta WHERE key = 'page_token_secret'")
    if row is None:
        try:
            async with store.transaction() as tx:
                await tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('page_token_secret', ?)",
                    secrets.token_hex(32),
                )
        except IntegrityError:
            pass  # another process won the race; read its value
        row = await store.fetchone("SELECT value FROM meta WHERE key = 'page_token_secret'")
    assert row is not None
    return str(row["value"]).encode()


async def open_runtime(settings: Settings) -> Runtime:
    store = await open_store(settings.store_url)
    registry = Registry(store)
    if settings.bootstrap_token:
        await registry.bootstrap(settings.bootstrap_token)
    pages = PageTokens(await _page_secret(store, settings.page_token_secret or ""))
    return Runtime(settings, store, registry, pages)
