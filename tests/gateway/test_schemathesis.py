"""Schemathesis against the served /openapi.json, with a valid admin token.

Bounded here (a few examples per operation); ``make fuzz`` runs the long one
(`tests.gateway.fuzz`).
Any 5xx, undocumented status, wrong Content-Type or body that breaks its
schema fails the run. The streaming operation is left out: its response
never ends by design, and test_streaming covers it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.gateway.support import Stack

CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_schema_conformance", "response_headers_conformance",
])  # fmt: skip


def run_schemathesis(
    stack: Stack, max_examples: int, workdir: Path, phases: str, *extra: str
) -> None:
    args = [
        str(Path(sys.executable).with_name("schemathesis")), "run", f"{stack.url}/openapi.json",
        "-H", f"Authorization: Bearer {stack.admin}", "--checks", CHECKS,
        "--max-examples", str(max_examples), "--exclude-path-regex", ":stream$",
        # No "examples" phase: the document has none, and that phase trips over
        # a hypothesis recursion error on the recursive schemas.
        "--phases", phases, "--workers", "2",
        "--request-timeout", "20", *extra,
    ]  # fmt: skip
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=workdir, timeout=900)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-15000:]
    assert " passed" in out and " failed" not in out.split("SUMMARY")[-1], out[-5000:]


def test_bounded_schemathesis_run(stack: Stack, tmp_path: Path) -> None:
    run_schemathesis(stack, 10, tmp_path, "fuzzing", "--seed", "1")
