"""The committed ``*_pb2*`` files are exactly what ``make protos`` generates, and
every almanac.v1 proto and service is importable from Python."""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path

import pytest

from . import (
    GENERATOR,
    PACKAGE_DIR,
    REPO,
    declared_services,
    pb2_grpc_module,
    pb2_module,
    proto_files,
)

GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")
FIX = "run `make protos` and commit the result"


def _generated(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {
        p.name: p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name.endswith(GENERATED_SUFFIXES)
    }


def _diff(name: str, committed: bytes, fresh: bytes, limit: int = 40) -> str:
    lines = list(
        difflib.unified_diff(
            committed.decode("utf-8", "replace").splitlines(),
            fresh.decode("utf-8", "replace").splitlines(),
            f"committed/{name}",
            f"generated/{name}",
            lineterm="",
        )
    )
    more = f"\n... {len(lines) - limit} more diff lines" if len(lines) > limit else ""
    return "\n".join(lines[:limit]) + more


def test_there_are_protos() -> None:
    assert proto_files(), f"no .proto files in {PACKAGE_DIR}"


def test_generated_code_is_up_to_date(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(tmp_path), "--quiet"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"generator failed:\n{result.stdout}{result.stderr}"
    fresh = _generated(tmp_path / "almanac" / "v1")
    committed = _generated(PACKAGE_DIR)
    assert fresh, "the generator produced no files"

    problems: list[str] = []
    missing = sorted(fresh.keys() - committed.keys())
    extra = sorted(committed.keys() - fresh.keys())
    if missing:
        problems.append(f"missing generated files: {', '.join(missing)}")
    if extra:
        problems.append(f"stale generated files (no matching .proto): {', '.join(extra)}")
    for name in sorted(fresh.keys() & committed.keys()):
        if fresh[name] != committed[name]:
            problems.append(f"out of date: {name}\n{_diff(name, committed[name], fresh[name])}")
    assert not problems, f"generated code differs from the .proto files; {FIX}.\n" + "\n".join(
        problems
    )


def test_every_generated_file_has_its_proto() -> None:
    stems = {p.stem for p in proto_files()}
    for name in _generated(PACKAGE_DIR):
        stem = name.split("_pb2", 1)[0]
        assert stem in stems, f"{name} has no {stem}.proto; {FIX}"


@pytest.mark.parametrize("proto", proto_files(), ids=lambda p: p.name)
def test_proto_imports_and_services_are_in_descriptors(proto: Path) -> None:
    try:
        pb2 = pb2_module(proto)
        pb2_grpc = pb2_grpc_module(proto)
    except ModuleNotFoundError as err:
        pytest.fail(f"cannot import the generated module for {proto.name} ({err}); {FIX}")
    assert pb2.DESCRIPTOR.name == f"almanac/v1/{proto.name}"
    assert pb2.DESCRIPTOR.package == "almanac.v1"

    declared = declared_services(proto)
    in_descriptor = list(pb2.DESCRIPTOR.services_by_name)
    assert sorted(declared) == sorted(in_descriptor), (
        f"{proto.name}: services in the source {declared} != in the descriptor "
        f"{in_descriptor}; {FIX}"
    )
    for name in declared:
        service = pb2.DESCRIPTOR.services_by_name[name]
        assert service.full_name == f"almanac.v1.{name}"
        assert service.methods, f"{service.full_name} has no methods"
        for attr in (f"{name}Stub", f"{name}Servicer", f"add_{name}Servicer_to_server"):
            assert hasattr(pb2_grpc, attr), f"{pb2_grpc.__name__} has no {attr}; {FIX}"
