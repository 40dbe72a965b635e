"""Fixtures of the gateway tests: the real services behind a real gateway.

``stack``: account, calendar, event, availability and activity services on a
fresh SQLite store, with a gateway process in front (CORS allowed for one
test origin). ``features``: the test FeatureService (every HttpRule feature
the contract does not use) behind its own gateway. Both start once per
session.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.gateway.support import (
    Stack,
    compile_test_protos,
    start_gateway,
    start_process,
    start_stack,
    stop,
)

HERE = Path(__file__).resolve().parent
ORIGIN = "http://app.example"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("gateway-stack")
    running = start_stack(root, "--cors-origin", ORIGIN, otel_exporter="console")
    yield running
    running.close()


@pytest.fixture(scope="session")
def features(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a gateway in front of the FeatureService."""
    root = tmp_path_factory.mktemp("gateway-features")
    gen = compile_test_protos(root / "gen")
    server, address, _ = start_process(
        "feature",
        [sys.executable, str(HERE / "feature_server.py"), str(gen)],
        dict(os.environ),
        root / "logs",
    )
    try:
        gateway, url = start_gateway(
            {"almanac.gwtest.FeatureService": address}, root / "logs",
            "--proto-module", "gwtest_pb2", "--gzip-min-bytes", "200", pythonpath=str(gen),
        )  # fmt: skip
    except BaseException:
        stop(server)
        raise
    yield url
    stop(gateway)
    stop(server)


@pytest.fixture
def feat(features: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=features, timeout=20) as client:
        yield client


@pytest.fixture
def admin(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client() as client:
        yield client


@pytest.fixture
def account(stack: Stack) -> str:
    """A fresh local account (``accounts/t-...``) with its primary calendar."""
    return stack.new_account()
