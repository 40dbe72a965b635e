"""``almanac call``: a grpcurl-style client built on the contract's descriptors.

No grpcurl exists in this environment's registries, and the generated
descriptors already know every request type, so a JSON request can be turned
into protobuf and sent, and each reply printed as JSON.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import re
import sys
from pathlib import Path

import almanac.v1
import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

from services.catalog import CATALOG
from services.runtime.channels import retries_safely, sync_channel
from services.runtime.config import Settings

__all__ = ["TOKEN_FILE", "bearer_token", "call", "find_method", "parse_request"]

TOKEN_FILE = Path("data/admin-token")


def _load_contract() -> None:
    for module in pkgutil.iter_modules(almanac.v1.__path__):
        if module.name.endswith("_pb2"):
            importlib.import_module(f"almanac.v1.{module.name}")


def find_method(spec: str) -> MethodDescriptor:
    """``CalendarService.ListCalendars`` or ``almanac.v1.CalendarService/ListCalendars``."""
    _load_contract()
    service, _, method = spec.replace("/", ".").rpartition(".")
    if "." not in service:
        service = f"almanac.v1.{service}"
    try:
        found = descriptor_pool.Default().FindServiceByName(service)
    except KeyError:
        raise SystemExit(
            f"almanac call: unknown service in {spec!r}; services: {', '.join(_services())}"
        ) from None
    if method not in found.methods_by_name:
        raise SystemExit(
            f"almanac call: {found.name} has no method {method!r}; "
            f"methods: {', '.join(found.methods_by_name)}"
        )
    return found.methods_by_name[method]


def _services() -> list[str]:
    file_names = [n for n in dir(almanac.v1) if n.endswith("_pb2")]
    names = []
    for module_name in sorted(file_names):
        module = getattr(almanac.v1, module_name)
        names.extend(module.DESCRIPTOR.services_by_name)
    return names


_NO_FIELD_RE = re.compile(
    r'has no field named "(?P<field>[^"]*)" at "(?P<at>[^"]*)"\.\s*'
    r'Available Fields\(except extensions\): "\[(?P<valid>.*)\]"',
    re.S,
)


def parse_request(spec: str, body: str, message: Message) -> Message:
    """``body`` (JSON) into ``message``; a bad body is one clear line (SystemExit)."""
    try:
        decoded = json.loads(body or "{}")
    except json.JSONDecodeError as exc:
        raise SystemExit(f"almanac call: the request is not valid JSON: {exc}") from None
    if not isinstance(decoded, dict):
        raise SystemExit("almanac call: the request must be a JSON object, e.g. '{}'")
    try:
        return json_format.ParseDict(decoded, message)
    except Exception as exc:  # json_format raises ParseError, ValueError or TypeError
        text = str(exc)
        missing = _NO_FIELD_RE.search(text)
        if missing:
            valid = missing["valid"].replace("'", "")
            text = f"no field {missing['field']!r} in {missing['at']}; valid fields: {valid}"
        line = " ".join(text.split())
        raise SystemExit(f"almanac call: bad request for {spec}: {line}") from None


def bearer_token() -> str:
    """``ALMANAC_TOKEN``, else the laptop's admin token in ``data/admin-token``."""
    token = os.environ.get("ALMANAC_TOKEN", "")
    if not token and TOKEN_FILE.exists():
        token = TOKEN_FILE.read_text().strip()
    return token


def call(spec: str, body: str, settings: Settings, address: str | None = None) -> int:
    method = find_method(spec)
    entry = next(
        (e for e in CATALOG.values() if e.full_name == method.containing_service.full_name), None
    )
    if address is None:
        if entry is None:
            raise SystemExit(f"{method.containing_service.name} is not served by this build")
        address = settings.addresses_of(entry.port_setting.removesuffix("_port"))
    request_cls = message_factory.GetMessageClass(method.input_type)
    response_cls = message_factory.GetMessageClass(method.output_type)
    request = parse_request(spec, body, request_cls())
    path = f"/{method.containing_service.full_name}/{method.name}"
    metadata: tuple[tuple[str, str | bytes], ...] = (("authorization", f"Bearer {bearer_token()}"),)
    # Several replicas (host:port,host:port) are balanced; reads and creates
    # with a request_id are retried on UNAVAILABLE (services.runtime.channels).
    with sync_channel(address, retry_creates=retries_safely(request)) as channel:
        kwargs = {
            "request_serializer": lambda m: m.SerializeToString(),
            "response_deserializer": response_cls.FromString,
        }
        try:
            if method.server_streaming:
                for reply in channel.unary_stream(path, **kwargs)(request, metadata=metadata):
                    print(json_format.MessageToJson(reply, indent=None), flush=True)
            else:
                reply = channel.unary_unary(path, **kwargs)(request, metadata=metadata, timeout=30)
                print(json_format.MessageToJson(reply, indent=2))
        except grpc.RpcError as exc:
            print(json.dumps({"code": exc.code().name, "message": exc.details()}), file=sys.stderr)
            return 1
    return 0
