"""Contacts and resources on a remote account: UNIMPLEMENTED until its backend
declares them (the mirror carries calendars and events only)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from almanac.v1 import contact_service_pb2 as ct_pb
from almanac.v1 import resource_service_pb2 as rs_pb

from tests.connectors.support import BACKENDS, MirrorSuite
from tests.helpers import ServiceProcess, TestAccount, expect_error, service_env, start_service
from tests.services.contacts.support import Directory


@pytest.fixture(scope="module")
def directory_of_suite(
    mirror_suite: MirrorSuite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Directory]:
    almanac = mirror_suite.almanac
    env = service_env(almanac.store_url, almanac.admin_secret, connector_backends=BACKENDS)
    logs: Path = tmp_path_factory.mktemp("directory-logs")
    procs: list[ServiceProcess] = [start_service(n, env, logs) for n in ("contact", "resource")]
    yield Directory(almanac, {"contact": procs[0].address, "resource": procs[1].address})
    for proc in procs:
        proc.terminate()


def test_remote_accounts_have_no_contacts_or_resources(
    mirror_suite: MirrorSuite, directory_of_suite: Directory
) -> None:
    remote = mirror_suite.remote_account()
    for call in (
        lambda: directory_of_suite.contacts().ListContacts(
            ct_pb.ListContactsRequest(parent=remote.name)
        ),
        lambda: directory_of_suite.resources().CreateResource(
            rs_pb.CreateResourceRequest(
                parent=remote.name,
                resource=rs_pb.Resource(display_name="Room", email="room@x.example"),
            )
        ),
    ):
        failure = expect_error(grpc.StatusCode.UNIMPLEMENTED, call)
        assert failure.reason == "CAPABILITY_NOT_SUPPORTED"
    local = TestAccount(mirror_suite.almanac, mirror_suite.almanac.create_local_account())
    reply = directory_of_suite.contacts().ListContacts(ct_pb.ListContactsRequest(parent=local.name))
    assert reply.total_size == 0
