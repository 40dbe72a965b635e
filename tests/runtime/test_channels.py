"""The shipped service config against the contract, and replica targets.

The config names methods by hand-checked lists; these tests keep it from
rotting: every name exists, every retried write carries a ``request_id``
(so a replay returns the first result), and every read and every such create
is covered.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from typing import Any

import almanac.v1
import pytest
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import event_service_pb2 as ev_pb
from google.api import annotations_pb2
from google.protobuf.descriptor import MethodDescriptor

from services.runtime.channels import (
    SERVICE_CONFIG_PATH,
    channel_options,
    retries_safely,
    service_config,
    target,
)
from services.runtime.config import Settings, load_settings
from services.runtime.server import server_options


def _contract() -> dict[tuple[str, str], MethodDescriptor]:
    for module in pkgutil.iter_modules(almanac.v1.__path__):
        if module.name.endswith("_pb2"):
            importlib.import_module(f"almanac.v1.{module.name}")
    methods = {}
    for name in dir(almanac.v1):
        if name.endswith("_pb2"):
            for service in getattr(almanac.v1, name).DESCRIPTOR.services_by_name.values():
                for method in service.methods:
                    methods[(service.full_name, method.name)] = method
    return methods


def _is_read(method: MethodDescriptor) -> bool:
    # Safe by HTTP's own rules (a GET binding), or a query that only computes.
    rule = method.GetOptions().Extensions[annotations_pb2.http]
    return rule.WhichOneof("pattern") == "get" or method.name.startswith("Query")


def _retried(config: dict[str, Any]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for entry in config["methodConfig"]:
        if "retryPolicy" in entry:
            out |= {(n["service"], n["method"]) for n in entry["name"]}
    return out


def test_shipped_config_is_round_robin_and_retries_only_unavailable() -> None:
    config = json.loads(SERVICE_CONFIG_PATH.read_text())
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]
    for entry in config["methodConfig"]:
        policy = entry["retryPolicy"]
        assert policy["retryableStatusCodes"] == ["UNAVAILABLE"]
        assert 2 <= policy["maxAttempts"] <= 5  # gRPC caps attempts at 5
        assert all("method" in n for n in entry["name"]), "no whole-service entries"
    assert json.loads(service_config()) == config


def test_every_method_named_exists_and_every_retried_write_has_a_request_id() -> None:
    contract = _contract()
    retried = _retried(json.loads(SERVICE_CONFIG_PATH.read_text()))
    unknown = retried - set(contract)
    assert unknown == set(), f"not in the contract: {sorted(unknown)}"
    unsafe = [
        key
        for key in retried
        if not _is_read(contract[key])
        and "request_id" not in contract[key].input_type.fields_by_name
    ]
    assert unsafe == [], f"retried but neither a read nor keyed by request_id: {unsafe}"


def test_every_read_and_every_create_with_a_request_id_is_retried() -> None:
    contract = _contract()
    retried = _retried(json.loads(SERVICE_CONFIG_PATH.read_text()))
    idempotent = {
        key
        for key, method in contract.items()
        if _is_read(method) or "request_id" in method.input_type.fields_by_name
    }
    assert idempotent - retried == set(), f"missing: {sorted(idempotent - retried)}"
    # Updates, deletes and the other writes stay out: a replay could act twice.
    assert ("almanac.v1.EventService", "DeleteEvent") not in retried
    assert ("almanac.v1.AccountService", "SyncAccount") not in retried


def test_the_config_without_creates_still_retries_every_read() -> None:
    contract = _contract()
    reads_only = _retried(json.loads(service_config(retry_creates=False)))
    creates = {k for k, m in contract.items() if "request_id" in m.input_type.fields_by_name}
    assert creates and reads_only & creates == set()
    assert reads_only == {k for k, m in contract.items() if _is_read(m)}


def test_a_create_without_request_id_is_not_safe_to_retry() -> None:
    assert retries_safely(ev_pb.CreateEventRequest(request_id="r-1"))
    assert not retries_safely(ev_pb.CreateEventRequest())
    assert not retries_safely(cal_pb.ImportCalendarRequest())
    assert retries_safely(ev_pb.GetEventRequest(name="accounts/a/calendars/c/events/e"))
    # Updates carry no request_id and are never in the retry policy anyway.
    assert retries_safely(ev_pb.UpdateEventRequest())


@pytest.mark.parametrize(
    ("addresses", "expected"),
    [
        ("127.0.0.1:5001,127.0.0.1:5002", "ipv4:127.0.0.1:5001,127.0.0.1:5002"),
        (" 127.0.0.1:5001 , 10.0.0.2:5002 ", "ipv4:127.0.0.1:5001,10.0.0.2:5002"),
        (["127.0.0.1:1", "127.0.0.1:2"], "ipv4:127.0.0.1:1,127.0.0.1:2"),
        ("[::1]:5001,[::1]:5002", "ipv6:[::1]:5001,[::1]:5002"),
        ("calendar.internal:50052", "dns:///calendar.internal:50052"),
        ("localhost:5001,localhost:5002", "ipv4:127.0.0.1:5001,127.0.0.1:5002"),
        ("dns:///cal.svc:50052", "dns:///cal.svc:50052"),
        ("ipv4:10.0.0.1:1,10.0.0.2:1", "ipv4:10.0.0.1:1,10.0.0.2:1"),
    ],
)
def test_targets(addresses: str | list[str], expected: str) -> None:
    assert target(addresses) == expected


@pytest.mark.parametrize("bad", ["", "no-port", "127.0.0.1:x", "127.0.0.1:1,[::1]:2"])
def test_bad_targets_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        target(bad)


def test_channel_options_carry_the_config_and_let_callers_override() -> None:
    options = dict(channel_options(extra=[("grpc.max_reconnect_backoff_ms", 100)]))
    assert json.loads(options["grpc.service_config"]) == json.loads(service_config())
    assert options["grpc.max_reconnect_backoff_ms"] == 100
    assert options["grpc.enable_retries"] == 1


def test_service_addresses_name_the_replicas_of_each_service() -> None:
    settings = load_settings(
        environ={"ALMANAC_SERVICE_ADDRESSES": "calendar=10.0.0.1:1, 10.0.0.2:1;event=e:3"}
    )
    assert settings.addresses_of("calendar") == "10.0.0.1:1,10.0.0.2:1"
    assert settings.addresses_of("event") == "e:3"
    assert settings.addresses_of("contact") == "127.0.0.1:50054"  # host and its port
    assert load_settings(environ={"ALMANAC_HOST": "::"}).addresses_of("event") == "[::1]:50053"
    with pytest.raises(ValueError, match="service_addresses"):
        load_settings(environ={"ALMANAC_SERVICE_ADDRESSES": "calendars=a:1"})


def test_servers_limit_the_age_of_their_connections() -> None:
    options = dict(server_options(Settings()))
    assert options["grpc.max_connection_age_ms"] == 300_000
    assert options["grpc.max_connection_age_grace_ms"] == 60_000
    off = dict(server_options(Settings(max_connection_age_ms=0)))
    assert "grpc.max_connection_age_ms" not in off
