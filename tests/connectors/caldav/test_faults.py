"""A CalDAV server that fails: stopped, slow, 503 with Retry-After, garbage.

Each gives a clear status (never INTERNAL), leaves the mirror and the
activity log untouched, and the sync worker resumes by itself once the
server is well again (no SyncAccount call in these tests).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import event_service_pb2 as ev_pb
from google.rpc import error_details_pb2

from tests.connectors.caldav.proxy import FaultProxy
from tests.connectors.caldav.servers import PASSWORD, Radicale
from tests.connectors.caldav.targets import caldav_account
from tests.connectors.caldav.test_two_way import ics
from tests.connectors.support import MirrorSuite, eventually
from tests.helpers import RpcFailure, expect_error
from tests.services.events.support import at, utc

Code = grpc.StatusCode


class Faulty:
    """A CalDAV account whose server is reached through a `FaultProxy`."""

    def __init__(self, suite: MirrorSuite, server: Radicale) -> None:
        self.suite = suite
        self.server = server
        self.user = server.add_user()
        self.proxy = FaultProxy(server.base)
        self.account = caldav_account(suite, self.proxy.base + "/", self.user)
        self.id = self.account.name.split("/")[1]
        self.http = server.http(self.user)
        self.home = f"/{self.user}/"

    def calendar(self) -> str:
        from tests.connectors.caldav.targets import propfind

        return next(href for href, _, cal in propfind(self.http, self.home) if cal)

    def put_upstream(self, uid: str, title: str) -> None:
        reply = self.http.put(
            f"{self.calendar()}{uid}.ics",
            content=ics(uid, title),
            headers={"Content-Type": "text/calendar"},
        )
        assert reply.status_code in (201, 204), reply.text

    def titles(self) -> dict[str, str]:
        reply = self.suite.almanac.events().ListEvents(
            ev_pb.ListEventsRequest(
                parent=f"{self.account.name}/calendars/primary",
                start_time=at(utc(2026, 10, 1)).date_time,
                end_time=at(utc(2026, 12, 31)).date_time,
                expansion=ev_pb.EXPANSION_MASTERS,
            )
        )
        return {e.ical_uid: e.display_name for e in reply.events}

    def latest(self) -> str:
        return self.suite.cluster.activity().log(parent=self.account.name, page_size=1)[1]

    def create(self, title: str) -> ev_pb.Event:
        return self.suite.almanac.events().CreateEvent(
            ev_pb.CreateEventRequest(
                parent=f"{self.account.name}/calendars/primary",
                event=ev_pb.Event(
                    display_name=title, start=at(utc(2026, 11, 4, 9)), end=at(utc(2026, 11, 4, 10))
                ),
            )
        )

    def sync_state(self) -> acc_pb.SyncState:
        return (
            self.suite.almanac.accounts()
            .GetAccount(acc_pb.GetAccountRequest(name=self.account.name))
            .sync_state
        )

    def wait_failing(self, reason: str) -> acc_pb.SyncState:
        def check() -> acc_pb.SyncState:
            state = self.sync_state()
            assert state.consecutive_failures >= 1 and state.last_error_reason == reason, state
            return state

        return eventually(check, 30, f"a failed sync with {reason}")

    def wait_resumed(self, uid: str, title: str) -> None:
        self.put_upstream(uid, title)
        eventually(lambda: _check(self.titles().get(uid) == title), 30, "the sync to resume")
        assert self.sync_state().consecutive_failures == 0

    def close(self) -> None:
        self.proxy.stop()
        self.http.close()


def _check(ok: bool) -> None:
    assert ok


def _retry_seconds(failure: RpcFailure) -> int:
    for detail in failure.status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return int(info.retry_delay.seconds)
    raise AssertionError("no RetryInfo")


@pytest.fixture
def faulty(caldav_suite: MirrorSuite, radicale: Radicale) -> Iterator[Faulty]:
    account = Faulty(caldav_suite, radicale)
    yield account
    account.close()


def test_503_with_retry_after(faulty: Faulty) -> None:
    before, cursor = faulty.titles(), faulty.latest()
    faulty.proxy.fault("PUT", status=503, retry_after="7")
    failure = expect_error(Code.UNAVAILABLE, lambda: faulty.create("Lost?"))
    assert failure.reason == "UPSTREAM_UNAVAILABLE"
    assert _retry_seconds(failure) == 7
    assert faulty.titles() == before and faulty.latest() == cursor
    faulty.proxy.fault("PUT", status=429, retry_after="3")
    failure = expect_error(Code.RESOURCE_EXHAUSTED, lambda: faulty.create("Lost?"))
    assert _retry_seconds(failure) == 3
    faulty.proxy.fault("PUT", status=423)
    expect_error(Code.UNAVAILABLE, lambda: faulty.create("Lost?"))
    faulty.proxy.clear()
    faulty.proxy.fault("REPORT", status=503, retry_after="1")
    faulty.wait_failing("UPSTREAM_UNAVAILABLE")
    assert faulty.titles() == before and faulty.latest() == cursor
    assert (
        faulty.http.request("PROPFIND", faulty.calendar(), headers={"Depth": "1"}).text.count(
            ".ics"
        )
        == 0
    ), "a refused write reached the server"
    faulty.proxy.clear()
    faulty.wait_resumed("after503", "After 503")


def test_garbage_answers(faulty: Faulty, caldav_suite: MirrorSuite) -> None:
    before, cursor = faulty.titles(), faulty.latest()
    faulty.proxy.fault("REPORT", garbage=True)
    state = faulty.wait_failing("UPSTREAM_MALFORMED")
    assert "malformed" in state.last_error
    assert faulty.titles() == before and faulty.latest() == cursor
    # A new account on a server that answers garbage: no CalDAV server there.
    faulty.proxy.fault("PROPFIND", garbage=True)
    url = faulty.proxy.base + "/"
    failure = expect_error(
        Code.INVALID_ARGUMENT, lambda: caldav_account(caldav_suite, url, faulty.user, PASSWORD)
    )
    assert failure.reason == "CALDAV_NOT_FOUND"
    assert failure.fields == {"account.settings.caldav.url"}
    faulty.proxy.clear()
    faulty.wait_resumed("aftergarbage", "After garbage")


@pytest.mark.slow
def test_slow_server(faulty: Faulty) -> None:
    """A write beyond upstream_timeout_seconds; a slow sync is in test_backend.py
    (its REPORTs may take BULK_READ_TIMEOUT, two minutes)."""
    before, cursor = faulty.titles(), faulty.latest()
    faulty.proxy.fault("PUT", delay=6.5)  # the suite's upstream_timeout_seconds is 5
    started = time.monotonic()
    failure = expect_error(Code.UNAVAILABLE, lambda: faulty.create("Slow"))
    assert failure.reason == "UPSTREAM_TIMEOUT"
    assert time.monotonic() - started < 6.5
    assert faulty.titles() == before and faulty.latest() == cursor
    # The server did apply the late PUT: the next sync brings it in, once.
    faulty.proxy.clear()
    eventually(lambda: _check("Slow" in faulty.titles().values()), 30, "the late write")
    faulty.wait_resumed("afterslow", "After slow")


@pytest.fixture
def own_radicale(tmp_path: Path) -> Iterator[Radicale]:
    server = Radicale(tmp_path)
    server.start()
    yield server
    server.stop()


def test_server_stopped(caldav_suite: MirrorSuite, own_radicale: Radicale) -> None:
    faulty = Faulty(caldav_suite, own_radicale)
    direct = _Direct(caldav_suite, own_radicale, faulty.user)
    try:
        before, cursor = faulty.titles(), faulty.latest()
        own_radicale.stop()  # the proxy answers 502 now
        failure = expect_error(Code.UNAVAILABLE, lambda: faulty.create("Down"))
        assert failure.reason == "UPSTREAM_UNAVAILABLE"
        failure = expect_error(Code.UNAVAILABLE, direct.create)
        assert failure.reason == "UPSTREAM_UNREACHABLE"
        faulty.wait_failing("UPSTREAM_UNAVAILABLE")
        assert faulty.titles() == before and faulty.latest() == cursor
        own_radicale.start()
        faulty.wait_resumed("afterstop", "After stop")
    finally:
        faulty.close()


class _Direct:
    """An account straight on the server (no proxy)."""

    def __init__(self, suite: MirrorSuite, server: Radicale, user: str) -> None:
        self.suite = suite
        self.account = caldav_account(suite, server.base + "/", user)

    def create(self) -> ev_pb.Event:
        return self.suite.almanac.events().CreateEvent(
            ev_pb.CreateEventRequest(
                parent=f"{self.account.name}/calendars/primary",
                event=ev_pb.Event(display_name="x", start=at(utc(2026, 11, 4, 9))),
            )
        )
