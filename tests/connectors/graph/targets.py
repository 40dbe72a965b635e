"""The Graph connector in the contract suite: accounts on the fake Graph.

The suite's processes have ``microsoft_graph`` built in, so the shared
``mirror_suite`` serves these accounts as they are; the fake runs in this
process. Every test using it ends with no schema violation recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from almanac.v1 import account_service_pb2 as acc_pb

from tests.connectors.graph.fake import CLIENT_SECRET, FakeGraph
from tests.connectors.support import MirrorSuite
from tests.connectors.targets import Target
from tests.helpers import TestAccount

__all__ = ["GraphUpstream", "fake_graph", "graph_account", "graph_target"]


@dataclass
class GraphUpstream:
    fake: FakeGraph
    user: str

    def series(self) -> dict[str, list[str]]:
        """UID (transactionId, else iCalUId) -> subjects, master then exceptions."""
        out = {}
        for event in self.fake.events(self.user):
            exceptions = sorted(event["_exceptions"], key=lambda e: str(e["originalStart"]))
            uid = str(event.get("transactionId") or event["iCalUId"])
            out[uid] = [str(event["subject"])] + [str(e["subject"]) for e in exceptions]
        return out

    def calendar_names(self) -> set[str]:
        return self.fake.calendar_names(self.user)


@pytest.fixture(scope="session")
def fake_graph() -> Iterator[FakeGraph]:
    fake = FakeGraph().start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=False)
def graph_clean(fake_graph: FakeGraph) -> Iterator[FakeGraph]:
    """The fake, required to record no schema violation during the test."""
    fake_graph.violations.clear()
    yield fake_graph
    assert fake_graph.violations == []


def graph_account(suite: MirrorSuite, fake: FakeGraph, calendars: int = 1) -> acc_pb.Account:
    """A Graph account on a new mailbox of the fake, mirrored once before returning."""
    user = "g" + uuid.uuid4().hex[:10]
    refresh = fake.add_user(user, calendars)
    settings = acc_pb.MicrosoftGraphSettings(
        tenant="contoso",
        client_id="almanac-app",
        client_secret=CLIENT_SECRET,
        refresh_token=refresh,
        api_base_url=fake.api_url,
        token_url=fake.token_url(),
    )
    account = suite.almanac.accounts().CreateAccount(
        acc_pb.CreateAccountRequest(
            account=acc_pb.Account(
                connector=acc_pb.CONNECTOR_TYPE_MICROSOFT_GRAPH,
                display_name=user,
                settings=acc_pb.ConnectorSettings(microsoft_graph=settings),
            ),
            account_id=user,
        )
    )
    suite.wait_synced(user)
    return account


@pytest.fixture
def graph_target(mirror_suite: MirrorSuite, graph_clean: FakeGraph) -> Target:
    account = graph_account(mirror_suite, graph_clean)
    return Target(
        mirror_suite.almanac,
        mirror_suite.cluster.address("availability"),
        TestAccount(mirror_suite.almanac, account),
        GraphUpstream(graph_clean, account.name.split("/")[1]),
    )
