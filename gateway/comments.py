"""Proto comments by full name, read from the ``.proto`` files beside the bindings.

The generated ``*_pb2`` modules carry descriptors without their source info
(protoc drops comments from ``--python_out``), so the OpenAPI descriptions
come from the ``.proto`` sources that ship in the same package. The scanner
understands the layout ``buf format`` produces: a block of ``//`` lines
directly above a ``service``, ``rpc``, ``message``, ``enum``, field or enum
value. Anything it cannot read simply has no description.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from google.protobuf.descriptor import FileDescriptor

__all__ = ["Comments", "comments_for"]

_BLOCK = re.compile(r"^\s*(message|enum|service|oneof)\s+(\w+)\s*\{")
_RPC = re.compile(r"^\s*rpc\s+(\w+)\s*\(")
_FIELD = re.compile(
    r"^\s*(?:optional\s+|repeated\s+)?(?:map<[^>]+>|[\w.]+)\s+(\w+)\s*=\s*\d+\s*[;\[]"
)
_ENUM_VALUE = re.compile(r"^\s*([A-Z][A-Z0-9_]*)\s*=\s*-?\d+\s*[;\[]")


class Comments(dict[str, str]):
    """Leading comments keyed by full name (``almanac.v1.Calendar.display_name``)."""


def _scan(text: str, package: str, into: Comments) -> None:
    scopes: list[tuple[str, str]] = []  # (kind, full name) of open blocks; "" for others
    pending: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("//"):
            pending.append(stripped[2:].strip())
            continue
        named = [name for kind, name in scopes if name and kind != "oneof"]
        parent = named[-1] if named else package
        kind_here = scopes[-1][0] if scopes else ""
        comment = "\n".join(pending).strip()
        pending = [] if stripped else pending
        block = _BLOCK.match(line)
        if block:
            kind, name = block.groups()
            full = f"{parent}.{name}" if kind != "oneof" else parent
            if comment and kind != "oneof":
                into[full] = comment
            scopes.append((kind, full if kind != "oneof" else ""))
            _close(scopes, stripped[stripped.index("{") + 1 :])
            continue
        rpc = _RPC.match(line)
        if rpc and comment:
            into[f"{parent}.{rpc.group(1)}"] = comment
        elif kind_here == "enum" and (value := _ENUM_VALUE.match(line)):
            if comment:
                into[f"{parent}.{value.group(1)}"] = comment
        elif kind_here in ("message", "oneof") and (field := _FIELD.match(line)):
            if comment:
                into[f"{parent}.{field.group(1)}"] = comment
        opened = stripped.count("{") - stripped.count("}")
        for _ in range(max(opened, 0)):
            scopes.append(("", ""))
        for _ in range(max(-opened, 0)):
            if scopes:
                scopes.pop()


def _close(scopes: list[tuple[str, str]], rest: str) -> None:
    # "message Empty {}" opens and closes on one line.
    balance = rest.count("{") - rest.count("}")
    for _ in range(-balance):
        if scopes:
            scopes.pop()


@cache
def _read(name: str, package: str, roots: tuple[Path, ...]) -> Comments:
    out = Comments()
    for root in roots:
        path = root / name
        if path.is_file():
            _scan(path.read_text(encoding="utf-8"), package, out)
            break
    return out


def comments_for(files: Iterable[FileDescriptor], roots: Iterable[Path]) -> Comments:
    """The comments of these files, looked up under each root in turn."""
    out = Comments()
    root_tuple = tuple(roots)
    for file in files:
        out.update(_read(file.name, file.package, root_tuple))
    return out
