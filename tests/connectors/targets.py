"""What the contract suite runs against: one account per connector (no tests here).

A connector joins the suite with a ``<name>_target`` fixture returning a
`Target` (imported in ``tests/connectors/conftest.py``) and its name in
``CONNECTORS`` of ``test_contract.py``. A remote one also gives an
`Upstream` view, so every step can check the upstream holds what the mirror
shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from tests.connectors.reference.server import ReferenceServer
from tests.connectors.support import MirrorSuite
from tests.helpers import Almanac, TestAccount

__all__ = ["Target", "Upstream", "local_target", "mirror_suite", "reference_target"]


class Upstream(Protocol):
    def series(self) -> dict[str, list[str]]:
        """The primary calendar's items upstream: UID -> titles, master first."""

    def calendar_names(self) -> set[str]:
        """Display names of the account's calendars upstream."""


@dataclass
class Target:
    """One connector's account, as the contract suite drives it."""

    almanac: Almanac
    availability_address: str
    account: TestAccount
    upstream: Upstream | None  # None: a local account


@dataclass
class ReferenceUpstream:
    server: ReferenceServer
    user: str

    def series(self) -> dict[str, list[str]]:
        return {
            uid: [e["displayName"] for e in item["events"]]
            for uid, item in self.server.items(self.user, "cal0").items()
        }

    def calendar_names(self) -> set[str]:
        return {c.get("displayName", "") for c in self.server.calendars(self.user).values()}


@pytest.fixture(scope="session")
def mirror_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MirrorSuite]:
    """The suite with the reference backend plugged in (shared by the contract tests)."""
    root: Path = tmp_path_factory.mktemp("contract")
    suite = MirrorSuite(f"sqlite:///{root / 'almanac.db'}", root)
    yield suite
    suite.close()


@pytest.fixture
def local_target(mirror_suite: MirrorSuite) -> Target:
    account = mirror_suite.almanac.create_local_account()
    return Target(
        mirror_suite.almanac,
        mirror_suite.cluster.address("availability"),
        TestAccount(mirror_suite.almanac, account),
        None,
    )


@pytest.fixture
def reference_target(mirror_suite: MirrorSuite) -> Target:
    account = mirror_suite.remote_account()
    user = account.name.split("/")[1]
    return Target(
        mirror_suite.almanac,
        mirror_suite.cluster.address("availability"),
        TestAccount(mirror_suite.almanac, account),
        ReferenceUpstream(mirror_suite.upstream, user),
    )
