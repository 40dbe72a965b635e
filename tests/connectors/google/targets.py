"""The Google connector in the contract suite: ``google_target`` (no tests here)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.connectors.targets import Target
from tests.helpers import TestAccount

from .support import GoogleSuite

__all__ = ["google_suite", "google_target"]


@dataclass
class GoogleUpstream:
    suite: GoogleSuite
    user: str

    def series(self) -> dict[str, list[str]]:
        return self.suite.upstream_titles(self.user)

    def calendar_names(self) -> set[str]:
        with self.suite.fake.lock:
            return {c.summary for c in self.suite.fake.users[self.user].values()}


@pytest.fixture(scope="session")
def google_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GoogleSuite]:
    root: Path = tmp_path_factory.mktemp("google")
    suite = GoogleSuite(root)
    yield suite
    suite.close()


@pytest.fixture
def google_target(google_suite: GoogleSuite) -> Iterator[Target]:
    account, user = google_suite.account()
    yield Target(
        google_suite.almanac,
        google_suite.mirror.cluster.address("availability"),
        TestAccount(google_suite.almanac, account),
        GoogleUpstream(google_suite, user),
    )
    # Whatever the connector sent, and the fake answered, was Google's schema.
    assert google_suite.fake.violations == []
