"""The contact and resource service processes, for the tests that use them.

The shared fixture (``tests/conftest.py``) runs the account, calendar and
event services; ``directory`` adds one ``python -m services serve contact``
and one ``... serve resource`` process per store, on the same store and
bootstrap token, started on first use and stopped at the end of the session.
Test modules import ``directory_fixture`` and ``directory_processes_fixture``
and ask for ``directory``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import activity_service_pb2_grpc as act_grpc
from almanac.v1 import contact_service_pb2_grpc as ct_grpc
from almanac.v1 import resource_service_pb2_grpc as rs_grpc

from tests.helpers import Almanac, AuthedStub, ServiceProcess, service_env, start_service

__all__ = ["Directory", "directory_fixture", "directory_processes_fixture"]

_RUNNING: dict[tuple[str, str], ServiceProcess] = {}
_SERVICES = ("contact", "resource", "activity")


@pytest.fixture(scope="session", name="directory_processes")
def directory_processes_fixture() -> Iterator[dict[tuple[str, str], ServiceProcess]]:
    yield _RUNNING
    for proc in list(_RUNNING.values()):
        proc.terminate()
    _RUNNING.clear()


@dataclass
class Directory:
    """Clients of the contact, resource and activity services of one store."""

    almanac: Almanac
    addresses: dict[str, str]

    def _stub(self, stub: Any, name: str, token: str | None) -> Any:
        channel = self.almanac.channel(self.addresses[name])
        return AuthedStub(stub(channel), self.almanac.admin_secret if token == "" else token)

    def contacts(self, token: str | None = "") -> Any:
        """ContactService client; ``""`` means the admin token, None no token."""
        return self._stub(ct_grpc.ContactServiceStub, "contact", token)

    def resources(self, token: str | None = "") -> Any:
        """ResourceService client; ``""`` means the admin token, None no token."""
        return self._stub(rs_grpc.ResourceServiceStub, "resource", token)

    def activities(self, account: str) -> list[act_pb.Activity]:
        """Every activity of ``account``, oldest first."""
        stub = self._stub(act_grpc.ActivityServiceStub, "activity", "")
        out: list[act_pb.Activity] = []
        request = act_pb.ListActivitiesRequest(parent=account, page_size=1000)
        while True:
            reply = stub.ListActivities(request)
            out.extend(reply.activities)
            if not reply.next_page_token:
                return out
            request.page_token = reply.next_page_token


@pytest.fixture(name="directory")
def directory_fixture(
    almanac: Almanac,
    directory_processes: dict[tuple[str, str], ServiceProcess],
    tmp_path_factory: pytest.TempPathFactory,
) -> Directory:
    """The contact, resource and activity services of the test's store."""
    addresses = {}
    for name in _SERVICES:
        proc = directory_processes.get((almanac.store_url, name))
        if proc is None or not proc.alive():
            env = service_env(almanac.store_url, almanac.admin_secret)
            proc = start_service(name, env, tmp_path_factory.mktemp(f"{name}-logs"))
            directory_processes[(almanac.store_url, name)] = proc
        addresses[name] = proc.address
    return Directory(almanac, addresses)
