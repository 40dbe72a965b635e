"""A suite whose remote accounts live on the reference server (no tests here).

`MirrorSuite` runs the real service processes and the sync worker on a store
of their own, with the reference backend plugged in as the ``caldav``
connector (and a read-only variant as ``google``), next to a
`ReferenceServer` in this process that plays the upstream.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import json_format

from tests.connectors.reference.server import ReferenceServer
from tests.helpers import Almanac
from tests.services.activity.support import Cluster
from tests.services.events.support import at, utc

__all__ = ["BACKENDS", "MirrorSuite", "eventually", "upstream_event"]

T = TypeVar("T")

BACKENDS = (
    "caldav=tests.connectors.reference.backend:ReferenceBackend,"
    "google=tests.connectors.reference.readonly:ReadOnlyReferenceBackend"
)
SUITE = ("account", "calendar", "event", "activity", "availability", "sync")
# How often the workers of these tests pull each account, and look for due ones.
INTERVAL = 0.4


def eventually(check: Callable[[], T], timeout: float = 15.0, what: str = "") -> T:
    """``check()``'s first result that does not raise AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout:g}s: {what}") from None
            time.sleep(0.05)


def upstream_event(uid: str, title: str, hour: int = 9, **fields: Any) -> dict[str, Any]:
    """An event as another client of the upstream would write it (Event JSON)."""
    event = ev_pb.Event(
        ical_uid=uid,
        display_name=title,
        start=at(utc(2026, 11, 2, hour)),
        end=at(utc(2026, 11, 2, hour + 1)),
        **fields,
    )
    return json_format.MessageToDict(event)


class MirrorSuite:
    def __init__(self, store_url: str, root: Path, names: Iterable[str] = SUITE,
                 **settings: str) -> None:  # fmt: skip
        self.upstream = ReferenceServer().start()
        settings.setdefault("connector_backends", BACKENDS)
        settings.setdefault("sync_interval_seconds", str(INTERVAL))
        settings.setdefault("sync_poll_seconds", "0.05")
        settings.setdefault("upstream_timeout_seconds", "5")
        try:
            self.cluster = Cluster(store_url, root / "logs", names, **settings)
        except BaseException:
            self.upstream.stop()
            raise
        self.almanac: Almanac = self.cluster.almanac

    def close(self) -> None:
        self.cluster.close()
        self.upstream.stop()

    def remote_account(self, kind: int = acc_pb.CONNECTOR_TYPE_CALDAV,
                       calendars: int = 1) -> acc_pb.Account:  # fmt: skip
        """A remote account on a new upstream user, mirrored once before returning."""
        user = "u" + uuid.uuid4().hex[:10]
        self.upstream.add_user(user, calendars)
        url, password = self.upstream.url(user), self.upstream.password
        if kind == acc_pb.CONNECTOR_TYPE_CALDAV:
            settings = acc_pb.ConnectorSettings(
                caldav=acc_pb.CalDavSettings(url=url, username=user, password=password)
            )
        else:
            settings = acc_pb.ConnectorSettings(
                google=acc_pb.GoogleSettings(
                    client_id=user, client_secret=password, refresh_token="r", api_base_url=url
                )
            )
        account = self.almanac.accounts().CreateAccount(
            acc_pb.CreateAccountRequest(
                account=acc_pb.Account(connector=kind, display_name=user, settings=settings),
                account_id=user,
            )
        )
        self.wait_synced(user)
        return account

    def wait_synced(self, user: str, after: float = 0.0, timeout: float = 15.0) -> None:
        """Until the account's last successful sync started after ``after`` (epoch s)."""

        def check() -> None:
            state = (
                self.almanac.accounts()
                .GetAccount(acc_pb.GetAccountRequest(name=f"accounts/{user}"))
                .sync_state
            )
            attempt = state.last_attempt_time.ToNanoseconds() / 1e9
            success = state.last_success_time.ToNanoseconds() / 1e9
            assert state.HasField("last_success_time"), state
            assert attempt > after and success >= attempt, state

        eventually(check, timeout, f"a sync of accounts/{user}")

    def events(self, account: str) -> list[ev_pb.Event]:
        """The series and single events the mirror lists in October-December 2026."""
        reply = self.almanac.events().ListEvents(
            ev_pb.ListEventsRequest(
                parent=f"accounts/{account}/calendars/primary",
                start_time=at(utc(2026, 10, 1)).date_time,
                end_time=at(utc(2026, 12, 31)).date_time,
                expansion=ev_pb.EXPANSION_MASTERS,
                page_size=1000,
            )
        )
        return list(reply.events)

    def sync_now(self, user: str) -> None:
        """SyncAccount, then wait until a sync that started after it succeeded."""
        asked = time.time()
        self.almanac.accounts().SyncAccount(acc_pb.SyncAccountRequest(name=f"accounts/{user}"))
        self.wait_synced(user, asked)


def event_titles(events: Iterable[ev_pb.Event]) -> dict[str, str]:
    return {e.ical_uid: e.display_name for e in events}


RESOURCE_EVENT = common_pb2.RESOURCE_TYPE_EVENT
