"""A Node client (@grpc/proto-loader + @grpc/grpc-js) sees the same almanac.v1
services, methods and streaming shapes as the Python descriptors."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from . import NODE_CHECK, PROTO_ROOT, REPO, proto_files, python_services

NODE_DEPS = ("@grpc/proto-loader", "@grpc/grpc-js")


@pytest.fixture(scope="module")
def node_view() -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("`node` is not on PATH: install Node.js >= 18, then run `npm ci`")
    missing = [dep for dep in NODE_DEPS if not (REPO / "node_modules" / dep).is_dir()]
    if missing:
        pytest.fail(
            f"node_modules is missing {', '.join(missing)}: run `npm ci` (or `make node`) in {REPO}"
        )
    result = subprocess.run(
        [node, str(NODE_CHECK), str(PROTO_ROOT)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"node_check.js failed:\n{result.stderr}{result.stdout}"
    view: dict[str, Any] = json.loads(result.stdout)
    return view


def test_node_loads_every_proto(node_view: dict[str, Any]) -> None:
    expected = [f"almanac/v1/{p.name}" for p in proto_files()]
    assert node_view["files"] == expected


def test_node_sees_the_python_services_and_methods(node_view: dict[str, Any]) -> None:
    python = python_services()
    node_services = {name: sorted(methods) for name, methods in node_view["services"].items()}
    python_services_ = {name: sorted(methods) for name, methods in python.items()}
    assert node_services == python_services_


def test_node_sees_the_python_streaming_flags(node_view: dict[str, Any]) -> None:
    python = {
        f"{service}/{method}": flags
        for service, methods in python_services().items()
        for method, flags in methods.items()
    }
    assert node_view["methods"] == python
