"""The fuzz cluster: every served service on its own store, once per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz.cluster import FuzzCluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzCluster]:
    running = FuzzCluster.start(tmp_path_factory.mktemp("fuzz"))
    yield running
    running.stop()
