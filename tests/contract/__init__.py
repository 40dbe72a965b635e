"""Contract tests: generated code is in sync with the .proto files, and the
Python and Node views of the almanac.v1 services agree.

Shared helpers live here so both test modules see the same view of the repo.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO / "protos"
PACKAGE_DIR = PROTO_ROOT / "almanac" / "v1"
GENERATOR = PROTO_ROOT / "generate.py"
NODE_CHECK = Path(__file__).resolve().parent / "node_check.js"

_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_SERVICE = re.compile(r"\bservice\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{")


def proto_files() -> list[Path]:
    """``protos/almanac/v1/*.proto``, sorted."""
    return sorted(PACKAGE_DIR.glob("*.proto"))


def declared_services(proto: Path) -> list[str]:
    """Service names declared in a .proto source (comments and strings ignored)."""
    text = _COMMENT.sub(" ", _STRING.sub('""', proto.read_text(encoding="utf-8")))
    return _SERVICE.findall(text)


def pb2_module(proto: Path) -> ModuleType:
    return importlib.import_module(f"almanac.v1.{proto.stem}_pb2")


def pb2_grpc_module(proto: Path) -> ModuleType:
    return importlib.import_module(f"almanac.v1.{proto.stem}_pb2_grpc")


def python_services() -> dict[str, dict[str, dict[str, bool]]]:
    """``{service full name: {method name: {server_streaming, client_streaming}}}``
    for every service in the almanac.v1 Python descriptors."""
    services: dict[str, dict[str, dict[str, bool]]] = {}
    for proto in proto_files():
        try:
            module = pb2_module(proto)
        except ModuleNotFoundError as err:
            raise AssertionError(
                f"no generated Python module for {proto.name} ({err}): "
                "run `make protos` and commit the result"
            ) from err
        for service in module.DESCRIPTOR.services_by_name.values():
            services[service.full_name] = {
                method.name: {
                    "server_streaming": bool(method.server_streaming),
                    "client_streaming": bool(method.client_streaming),
                }
                for method in service.methods
            }
    return services
