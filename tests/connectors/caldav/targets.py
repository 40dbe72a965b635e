"""Contract-suite targets on real CalDAV servers: ``caldav_radicale`` and ``caldav_xandikos``.

The suite runs with no ``connector_backends`` override, so ``caldav``
accounts are served by the built-in `connectors.caldav.CalDavBackend`. The
`DavUpstream` view reads the server with plain HTTP (PROPFIND and GET), as
another client would.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from almanac.v1 import account_service_pb2 as acc_pb
from icalendar import Calendar

from tests.connectors.caldav.servers import PASSWORD, DavServer, Radicale, Xandikos
from tests.connectors.support import MirrorSuite
from tests.connectors.targets import Target
from tests.helpers import TestAccount

__all__ = [
    "DavUpstream",
    "caldav_account",
    "caldav_radicale_target",
    "caldav_suite",
    "caldav_xandikos_target",
    "radicale",
]

_NS = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:caldav"}
_PROPFIND = b"""<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>
<D:resourcetype/><D:displayname/><D:getetag/></D:prop></D:propfind>"""


def propfind(http: httpx.Client, href: str) -> list[tuple[str, str, bool]]:
    """(href, display name, is a calendar) of ``href``'s members."""
    headers = {"Depth": "1", "Content-Type": "application/xml"}
    reply = http.request("PROPFIND", href, content=_PROPFIND, headers=headers)
    assert reply.status_code == 207, reply.text
    out = []
    for response in ET.fromstring(reply.content).iterfind("D:response", _NS):
        path = response.findtext("D:href", "", _NS)
        name = response.findtext(".//D:displayname", "", _NS)
        is_cal = response.find(".//D:resourcetype/C:calendar", _NS) is not None
        if path.rstrip("/") != href.rstrip("/"):
            out.append((path, name, is_cal))
    return out


@dataclass
class DavUpstream:
    """A CalDAV account as another client of the server sees it."""

    http: httpx.Client
    home: str
    calendar: str  # the collection behind Almanac's primary

    def documents(self, collection: str = "") -> dict[str, Calendar]:
        out = {}
        for href, _, _ in propfind(self.http, collection or self.calendar):
            if href.endswith(".ics"):
                reply = self.http.get(href)
                assert reply.status_code == 200, reply.text
                out[href] = Calendar.from_ical(reply.content)
        return out

    def series(self) -> dict[str, list[str]]:
        held = {}
        for document in self.documents().values():
            vevents = document.walk("VEVENT")
            vevents.sort(key=lambda v: "RECURRENCE-ID" in v)
            held[str(vevents[0]["UID"])] = [str(v.get("SUMMARY", "")) for v in vevents]
        return held

    def calendar_names(self) -> set[str]:
        return {name for _, name, is_cal in propfind(self.http, self.home) if is_cal}


@pytest.fixture(scope="session")
def caldav_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MirrorSuite]:
    """The suite with the built-in CalDAV backend (no `connector_backends`)."""
    root: Path = tmp_path_factory.mktemp("caldav")
    suite = MirrorSuite(f"sqlite:///{root / 'almanac.db'}", root, connector_backends="")
    yield suite
    suite.close()


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    server = Radicale(tmp_path_factory.mktemp("radicale"))
    server.start()
    yield server
    server.stop()


def caldav_account(
    suite: MirrorSuite, url: str, user: str, password: str = PASSWORD, account_id: str = ""
) -> acc_pb.Account:
    account_id = account_id or "c" + uuid.uuid4().hex[:10]
    settings = acc_pb.CalDavSettings(url=url, username=user, password=password)
    account = suite.almanac.accounts().CreateAccount(
        acc_pb.CreateAccountRequest(
            account=acc_pb.Account(
                connector=acc_pb.CONNECTOR_TYPE_CALDAV,
                display_name=account_id,
                settings=acc_pb.ConnectorSettings(caldav=settings),
            ),
            account_id=account_id,
        )
    )
    suite.wait_synced(account_id)
    return account


def _target(suite: MirrorSuite, server: DavServer, user: str, home: str) -> Target:
    account = caldav_account(suite, server.base + "/", user)
    http = server.http(user)  # type: ignore[attr-defined]
    calendars = [href for href, _, is_cal in propfind(http, home) if is_cal]
    assert len(calendars) == 1, calendars
    return Target(
        suite.almanac,
        suite.cluster.address("availability"),
        TestAccount(suite.almanac, account),
        DavUpstream(http, home, calendars[0]),
    )


@pytest.fixture
def caldav_radicale_target(caldav_suite: MirrorSuite, radicale: Radicale) -> Iterator[Target]:
    user = radicale.add_user()
    target = _target(caldav_suite, radicale, user, f"/{user}/")
    yield target
    target.upstream.http.close()  # type: ignore[union-attr]


@pytest.fixture
def caldav_xandikos_target(caldav_suite: MirrorSuite, tmp_path: Path) -> Iterator[Target]:
    server = Xandikos(tmp_path)
    server.start()
    try:
        target = _target(caldav_suite, server, "", "/user/calendars/")
        yield target
        target.upstream.http.close()  # type: ignore[union-attr]
    finally:
        server.stop()
