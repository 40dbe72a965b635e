"""Which connector serves an account: ``connector_for(account)``.

Connectors are keyed by the account's connector type. ``local`` is built in;
a remote type is the local connector over the mirror with a write-through
hook to that type's :class:`~connectors.remote.RemoteBackend`. Backends are
found by name, like Radicale's storage plugins: the built-in table below, or
a ``module:Class`` path from configuration (the tests plug the reference
backend in that way). A type with no backend is UNIMPLEMENTED with reason
``CONNECTOR_NOT_AVAILABLE``; a capability a connector lacks, with reason
``CAPABILITY_NOT_SUPPORTED`` naming it.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping

from almanac.v1 import account_service_pb2 as acc_pb

from connectors.base import AccountConnector, Capability
from connectors.errors import FailedPrecondition, Unsupported
from connectors.local import LocalConnector
from connectors.remote import RemoteBackend
from connectors.state.accounts import Registry
from connectors.store import Store
from connectors.sync import ledger
from connectors.sync.mirror import WriteThrough, capabilities_of

__all__ = ["BUILTIN_BACKENDS", "Connectors", "load_backend"]

# connector type name (as in ConnectorSettings) -> "module:Class". The real
# CalDAV, Google and Graph backends register here as they land.
BUILTIN_BACKENDS: dict[str, str] = {
    "caldav": "connectors.caldav:CalDavBackend",
    "google": "connectors.google:GoogleBackend",
    "microsoft_graph": "connectors.msgraph:GraphBackend",
}
_TYPES = {
    "caldav": acc_pb.CONNECTOR_TYPE_CALDAV,
    "google": acc_pb.CONNECTOR_TYPE_GOOGLE,
    "microsoft_graph": acc_pb.CONNECTOR_TYPE_MICROSOFT_GRAPH,
}
# Connector types never change; a cached one is stale only for an account
# deleted and re-created with another type, which a few seconds bound.
_TYPE_CACHE_SECONDS = 5.0


def _type_name(kind: int) -> str:
    return acc_pb.ConnectorType.Name(kind)  # type: ignore[arg-type]


def load_backend(spec: str) -> type[RemoteBackend]:
    module, _, attr = spec.partition(":")
    cls = getattr(importlib.import_module(module), attr or "Backend")
    if not (isinstance(cls, type) and issubclass(cls, RemoteBackend)):
        raise TypeError(f"{spec} is not a connectors.remote.RemoteBackend")
    return cls


class Connectors:
    """Every connector of one process, over its one store."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        backends: Mapping[str, str] | None = None,
        upstream_timeout: float = 10.0,
    ) -> None:
        self.store = store
        self.registry = registry
        self.local = LocalConnector(store)
        specs = {**BUILTIN_BACKENDS, **(backends or {})}
        unknown = set(specs) - set(_TYPES)
        if unknown:
            raise ValueError(f"no connector type named {', '.join(sorted(unknown))}")
        self._backend_types: dict[int, type[RemoteBackend]] = {
            int(_TYPES[name]): load_backend(spec) for name, spec in specs.items()
        }
        self._through = WriteThrough(self.backend_for, upstream_timeout)
        self._mirrors: dict[int, LocalConnector] = {
            kind: LocalConnector(
                store,
                name=_type_name(kind),
                capabilities=capabilities_of(cls),
                upstream=self._through,
            )
            for kind, cls in self._backend_types.items()
        }
        self._types: dict[str, tuple[int, float]] = {}
        self._backends: dict[str, tuple[int, RemoteBackend]] = {}

    async def connector_type(self, account: str) -> int:
        now = time.monotonic()
        cached = self._types.get(account)
        if cached is None or cached[1] < now:
            cached = (await self.registry.connector_of(account), now + _TYPE_CACHE_SECONDS)
            self._types[account] = cached
        return cached[0]

    async def connector_for(self, account: str, *needs: Capability) -> AccountConnector:
        """The connector serving ``account``, which must have every capability in ``needs``."""
        kind = await self.connector_type(account)
        connector = self.local if kind == acc_pb.CONNECTOR_TYPE_LOCAL else self._mirrors.get(kind)
        if connector is None:
            raise Unsupported(
                f"the {_type_name(kind)} connector is not available in this deployment",
                reason="CONNECTOR_NOT_AVAILABLE",
                metadata={"connector": _type_name(kind)},
            )
        for need in needs:
            if need not in connector.capabilities:
                raise Unsupported(
                    f"accounts/{account} ({connector.name}) cannot do"
                    f" {acc_pb.Capability.Name(need)}",
                    reason="CAPABILITY_NOT_SUPPORTED",
                    metadata={"capability": acc_pb.Capability.Name(need)},
                )
        return connector

    def capabilities(self, kind: int) -> frozenset[Capability]:
        """What accounts of a connector type can do (empty: type not available)."""
        if kind == acc_pb.CONNECTOR_TYPE_LOCAL:
            return self.local.capabilities
        mirror = self._mirrors.get(kind)
        return mirror.capabilities if mirror is not None else frozenset()

    def backend_class(self, kind: int) -> type[RemoteBackend] | None:
        return self._backend_types.get(kind)

    async def backend_for(self, account: str) -> RemoteBackend:
        """The remote backend of a remote account, rebuilt when its settings change."""
        full, version = await self.registry.with_secrets(account)
        cached = self._backends.get(account)
        if cached is not None and cached[0] == version:
            return cached[1]
        cls = self._backend_types.get(full.connector)
        if cls is None:
            raise Unsupported(
                f"the {_type_name(full.connector)} connector is not available",
                reason="CONNECTOR_NOT_AVAILABLE",
            )
        backend = cls(full)
        if cached is not None:
            await cached[1].aclose()
        self._backends[account] = (version, backend)
        return backend

    async def validate(self, account: acc_pb.Account) -> None:
        """Check a new remote account's settings with a real request upstream."""
        cls = self._backend_types.get(account.connector)
        if cls is None:
            return
        backend = cls(account)
        try:
            await backend.validate()
        finally:
            await backend.aclose()

    async def sync_state(self, account: str) -> acc_pb.SyncState | None:
        return await ledger.sync_state(self.store, account)

    async def request_sync(self, account: acc_pb.Account) -> None:
        if account.connector == acc_pb.CONNECTOR_TYPE_LOCAL:
            raise FailedPrecondition(
                f"{account.name} is a local account: there is no upstream to sync",
                reason="NOTHING_TO_SYNC",
            )
        await ledger.request_sync(self.store, account.name.split("/", 1)[1])

    async def aclose(self) -> None:
        for _, backend in self._backends.values():
            await backend.aclose()
        self._backends.clear()
