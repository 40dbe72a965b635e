"""The layout keeps the architecture: servicers reach backends only through
the connector contract, and Almanac's own data only through connectors."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.helpers import REPO_ROOT

SERVICES = REPO_ROOT / "services"
_SQL = re.compile(r"^\s*(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.I)


def _modules(root: Path) -> list[Path]:
    found = sorted(root.rglob("*.py"))
    assert found, f"no modules under {root}"
    return found


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_services_import_nothing_from_the_local_connector() -> None:
    offenders = {
        str(p.relative_to(REPO_ROOT)): sorted(
            i for i in _imports(p) if i.startswith("connectors.local")
        )
        for p in _modules(SERVICES)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_sql_under_services() -> None:
    offenders = []
    for path in _modules(SERVICES):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if _SQL.match(node.value):
                    offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert offenders == []


def test_the_checks_would_catch_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text('from connectors.local.events import LocalEvents\nQ = "SELECT 1 FROM t"\n')
    assert "connectors.local.events" in _imports(bad)
    constants = [
        n.value for n in ast.walk(ast.parse(bad.read_text())) if isinstance(n, ast.Constant)
    ]
    assert any(isinstance(c, str) and _SQL.match(c) for c in constants)
