"""Every RPC of the contract is bound, authorized and, where served, implemented.

A missing ``method_auth`` fails closed at run time (PERMISSION_DENIED for
every call); this catches it in CI instead, with the RPC's name.
"""

from __future__ import annotations

import importlib
import pkgutil

import almanac.v1
import pytest
from almanac.v1 import options_pb2
from google.api import annotations_pb2
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import MethodDescriptor

from services.catalog import CATALOG
from services.runtime.principal import GLOBAL_ADMIN

for _module in pkgutil.iter_modules(almanac.v1.__path__):
    if _module.name.endswith("_pb2"):
        importlib.import_module(f"almanac.v1.{_module.name}")

_AREAS = {"calendars", "contacts", "resources", "activity"}


def _methods() -> list[MethodDescriptor]:
    pool = descriptor_pool.Default()
    found = []
    for module in pkgutil.iter_modules(almanac.v1.__path__):
        if not module.name.endswith("_service_pb2"):
            continue
        file = pool.FindFileByName(f"almanac/v1/{module.name.removesuffix('_pb2')}.proto")
        for service in file.services_by_name.values():
            found.extend(service.methods)
    return found


METHODS = _methods()


def test_the_contract_has_the_services_the_issues_name() -> None:
    services = {m.containing_service.name for m in METHODS}
    assert services == {
        "AccountService", "CalendarService", "EventService", "ContactService",
        "ResourceService", "AvailabilityService", "ActivityService",
    }  # fmt: skip


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.full_name)
def test_every_rpc_has_an_http_binding(method: MethodDescriptor) -> None:
    rule = method.GetOptions().Extensions[annotations_pb2.http]
    assert rule.WhichOneof("pattern"), f"{method.full_name} has no google.api.http binding"


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.full_name)
def test_every_rpc_declares_its_scope(method: MethodDescriptor) -> None:
    options = method.GetOptions()
    assert options.HasExtension(options_pb2.method_auth), f"{method.full_name}: no method_auth"
    scope = options.Extensions[options_pb2.method_auth].scope
    if scope:
        area, _, level = scope.partition(":")
        assert scope == GLOBAL_ADMIN or (area in _AREAS and level in {"read", "write", "admin"})


@pytest.mark.parametrize("entry", list(CATALOG.values()), ids=lambda e: e.name)
def test_every_served_rpc_is_implemented(entry: object) -> None:
    full_name = entry.full_name  # type: ignore[attr-defined]
    service = descriptor_pool.Default().FindServiceByName(full_name)
    servicer = entry.build  # type: ignore[attr-defined]
    # Implemented: defined by a class of ours (the servicer or a mixin of its
    # RPCs), not only by the generated base that answers UNIMPLEMENTED.
    ours = [c for c in servicer.__mro__ if c.__name__ != f"{service.name}Servicer"]
    missing = [m.name for m in service.methods if not any(m.name in vars(c) for c in ours)]
    assert not missing, f"{full_name} does not implement {missing}"
