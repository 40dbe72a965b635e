"""`CalDavBackend` at the connector level: errors mapped at the HTTP boundary
(every status the issue names, timeouts, malformed XML and ICS), the etag
fallback, paged first listings, tokens after a restart, and what is written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import event_service_pb2 as ev_pb
from icalendar import Calendar

from connectors import errors
from connectors.caldav import CalDavBackend, sync
from connectors.caldav.client import DavClient
from connectors.caldav.items import parse_item, serialize_item
from connectors.remote import RemoteItem, SyncTokenExpired
from tests.connectors.caldav.servers import PASSWORD, Radicale
from tests.connectors.caldav.test_two_way import ics
from tests.services.events.support import at, utc

Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler) -> DavClient:
    return DavClient("http://dav.test/", "u", "p", transport=httpx.MockTransport(handler))


def _answer(status: int, body: bytes = b"", **headers: str) -> Handler:
    return lambda request: httpx.Response(status, content=body, headers=headers)


_TOKEN_403 = b'<?xml version="1.0"?><D:error xmlns:D="DAV:"><D:valid-sync-token/></D:error>'
_UID_409 = (
    b'<?xml version="1.0"?><D:error xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
    b"<C:no-uid-conflict/></D:error>"
)


@pytest.mark.parametrize(
    ("status", "body", "headers", "syncing", "kind", "reason", "retry"),
    [
        (401, b"", {}, False, errors.Unauthenticated, "UPSTREAM_CREDENTIALS_REJECTED", None),
        (403, b"", {}, False, errors.PermissionDenied, "UPSTREAM_FORBIDDEN", None),
        (403, _TOKEN_403, {}, True, SyncTokenExpired, "SYNC_TOKEN_EXPIRED", None),
        (404, b"", {}, False, errors.NotFound, "UPSTREAM_NOT_FOUND", None),
        (409, _UID_409, {}, False, errors.AlreadyExists, "UPSTREAM_UID_CONFLICT", None),
        (409, b"", {}, False, errors.FailedPrecondition, "UPSTREAM_CONFLICT", None),
        (412, b"", {}, False, errors.EtagMismatch, "UPSTREAM_ETAG_MISMATCH", None),
        (412, b"", {}, True, SyncTokenExpired, "SYNC_TOKEN_EXPIRED", None),
        (413, b"", {}, False, errors.InvalidArgument, "UPSTREAM_TOO_LARGE", None),
        (415, b"", {}, False, errors.InvalidArgument, "UPSTREAM_REJECTED", None),
        (423, b"", {}, False, errors.Unavailable, "UPSTREAM_LOCKED", 1.0),
        (429, b"", {"Retry-After": "12"}, False, errors.RateLimited, "UPSTREAM_RATE_LIMITED", 12.0),
        (500, b"", {}, False, errors.Unavailable, "UPSTREAM_UNAVAILABLE", None),
        (503, b"", {"Retry-After": "30"}, False, errors.Unavailable, "UPSTREAM_UNAVAILABLE", 30.0),
    ],
)
async def test_statuses_map_into_the_error_tree(
    status: int,
    body: bytes,
    headers: dict[str, str],
    syncing: bool,
    kind: type[errors.ConnectorError],
    reason: str,
    retry: float | None,
) -> None:
    client = _client(_answer(status, body, **headers))
    with pytest.raises(kind) as caught:
        await client.request("REPORT", "/cal/", "op", syncing=syncing)
    assert type(caught.value) is kind
    assert caught.value.reason == reason
    if retry is not None:
        assert caught.value.retry_after == retry  # type: ignore[attr-defined]
    await client.aclose()


async def test_retry_after_as_an_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    client = _client(_answer(503, **{"Retry-After": when}))
    with pytest.raises(errors.Unavailable) as caught:
        await client.request("GET", "/x", "op")
    assert 80 <= (caught.value.retry_after or 0) <= 91
    await client.aclose()


async def test_timeouts_refusals_and_malformed_xml() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    for handler, reason in (
        (timeout, "UPSTREAM_TIMEOUT"),
        (refused, "UPSTREAM_UNREACHABLE"),
        (_answer(207, b"<<not xml"), "UPSTREAM_MALFORMED"),
        (_answer(207, b"<a/>"), "UPSTREAM_MALFORMED"),
    ):
        client = _client(handler)
        with pytest.raises(errors.Unavailable) as caught:
            await client.propfind("/", ["{DAV:}getetag"], "op")
        assert caught.value.reason == reason
        await client.aclose()


def test_malformed_ics_is_a_clear_error() -> None:
    with pytest.raises(errors.Unavailable) as caught:
        parse_item("/c/x.ics", '"1"', b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:garbage\r\n")
    assert caught.value.reason == "UPSTREAM_MALFORMED"


def test_exceptions_are_written_without_rules() -> None:
    master = ev_pb.Event(
        ical_uid="s1",
        display_name="Daily",
        start=at(utc(2026, 11, 2, 9)),
        end=at(utc(2026, 11, 2, 10)),
        recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=5"]),
    )
    moved = ev_pb.Event()
    moved.CopyFrom(master)  # as a client may send it: the rule copied onto the instance
    moved.display_name = "Moved"
    moved.original_start.CopyFrom(at(utc(2026, 11, 3, 9)))
    moved.recurrence_type = ev_pb.RECURRENCE_TYPE_INSTANCE
    vevents = Calendar.from_ical(serialize_item([master, moved])).walk("VEVENT")
    assert ["RRULE" in v for v in vevents] == [True, False]
    assert "RECURRENCE-ID" in vevents[1]


@pytest.fixture
async def radicale_backend(tmp_path: Path) -> AsyncIterator[tuple[CalDavBackend, Radicale, str]]:
    server = Radicale(tmp_path)
    server.start()
    user = server.add_user()
    backend = CalDavBackend(_account(server, user))
    await backend.validate()  # as CreateAccount does: makes the first calendar
    yield backend, server, user
    await backend.aclose()
    server.stop()


def _account(server: Radicale, user: str) -> acc_pb.Account:
    settings = acc_pb.CalDavSettings(url=server.base + "/", username=user, password=PASSWORD)
    return acc_pb.Account(settings=acc_pb.ConnectorSettings(caldav=settings))


def _event(uid: str, title: str) -> RemoteItem:
    event = ev_pb.Event(
        ical_uid=uid,
        display_name=title,
        start=at(utc(2026, 11, 2, 9)),
        end=at(utc(2026, 11, 2, 10)),
    )
    return RemoteItem(uid, "", [event])


async def test_etag_fallback_without_sync_collection(
    radicale_backend: tuple[CalDavBackend, Radicale, str],
) -> None:
    backend, server, user = radicale_backend
    backend.tracker.use_sync_collection = False  # as for a server without RFC 6578
    calendar = (await backend.list_calendars())[0].remote_id
    keep = await backend.put_item(calendar, _event("keep", "Keep"), None)
    drop = await backend.put_item(calendar, _event("drop", "Drop"), None)
    first = await backend.changes(calendar, "")
    assert first.token.startswith("etags-")
    assert sorted(i.uid for i in first.items) == ["drop", "keep"]
    with server.http(user) as other:
        other.put(f"{calendar}new.ics", content=ics("new", "New"))
    await backend.put_item(
        calendar, RemoteItem("keep", keep, [_event("keep", "Kept").events[0]]), keep
    )
    await backend.delete_item(calendar, "drop", drop)
    second = await backend.changes(calendar, first.token)
    assert [i.uid for i in second.items] == ["new"], "our own write is not reported back"
    assert second.deleted == ["drop"]
    assert (await backend.changes(calendar, second.token)).items == []
    with pytest.raises(SyncTokenExpired):
        await backend.changes(calendar, first.token)


async def test_a_large_first_listing_comes_in_pages(
    radicale_backend: tuple[CalDavBackend, Radicale, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend, _, _ = radicale_backend
    monkeypatch.setattr(sync, "BATCH", 3)
    calendar = (await backend.list_calendars())[0].remote_id
    for n in range(8):
        await backend.put_item(calendar, _event(f"e{n}", f"E{n}"), None)
    fresh = CalDavBackend(backend.account)  # no listing yet: everything is new
    pages = [await fresh.changes(calendar, "")]
    while pages[-1].more:
        pages.append(await fresh.changes(calendar, pages[-1].token))
    assert [len(p.items) for p in pages] == [3, 3, 2]
    assert sorted(i.uid for p in pages for i in p.items) == [f"e{n}" for n in range(8)]
    assert not pages[-1].token.startswith("page-")
    assert (await fresh.changes(calendar, pages[-1].token)).items == []
    await fresh.aclose()


async def test_a_restarted_process_resumes_from_a_stored_token(
    radicale_backend: tuple[CalDavBackend, Radicale, str],
) -> None:
    backend, _, _ = radicale_backend
    calendar = (await backend.list_calendars())[0].remote_id
    a = await backend.put_item(calendar, _event("a", "A"), None)
    b = await backend.put_item(calendar, _event("b", "B"), None)
    token = (await backend.changes(calendar, "")).token
    await backend.put_item(calendar, RemoteItem("a", a, [_event("a", "A2").events[0]]), a)
    restarted = CalDavBackend(backend.account)  # a new process: no listing
    resumed = await restarted.changes(calendar, token)
    assert [(i.uid, i.events[0].display_name) for i in resumed.items] == [("a", "A2")]
    await backend.delete_item(calendar, "b", b)
    again = CalDavBackend(backend.account)
    with pytest.raises(SyncTokenExpired):
        await again.changes(calendar, resumed.token)  # it cannot name b's UID
    # A member Almanac made (and named) itself is named again without a resync.
    token = (await again.changes(calendar, "")).token
    made = await backend.put_item(calendar, _event("x1@almanac.dev", "Made"), None)
    await backend.delete_item(calendar, "x1@almanac.dev", made)
    assert (await again.changes(calendar, token)).deleted == ["x1@almanac.dev"]
    await restarted.aclose()
    await again.aclose()


async def test_a_wrong_url_is_a_clear_error(tmp_path: Path) -> None:
    server = Radicale(tmp_path)  # not started: nothing listens
    account = _account(server, "nobody")
    backend = CalDavBackend(account)
    with pytest.raises(errors.Unavailable) as caught:
        await backend.validate()
    assert caught.value.reason == "UPSTREAM_UNREACHABLE"
    await backend.aclose()
    settings = acc_pb.CalDavSettings(url="ftp://example.test/", username="u", password="p")
    backend = CalDavBackend(acc_pb.Account(settings=acc_pb.ConnectorSettings(caldav=settings)))
    with pytest.raises(errors.InvalidArgument) as bad:
        await backend.validate()
    assert bad.value.violations[0][0] == "account.settings.caldav.url"
    await backend.aclose()


async def test_discovery_tells_down_from_not_dav() -> None:
    from connectors.caldav.discovery import discover

    down = _client(_answer(503, **{"Retry-After": "5"}))
    with pytest.raises(errors.Unavailable) as caught:
        await discover(down)
    assert caught.value.retry_after == 5.0
    await down.aclose()
    for status in (404, 405, 501):
        web = _client(_answer(status))
        with pytest.raises(errors.InvalidArgument) as bad:
            await discover(web)
        assert bad.value.reason == "CALDAV_NOT_FOUND"
        await web.aclose()


async def test_a_sync_slower_than_its_timeout(
    radicale_backend: tuple[CalDavBackend, Radicale, str],
) -> None:
    from tests.connectors.caldav.proxy import FaultProxy

    backend, server, _ = radicale_backend
    calendar = (await backend.list_calendars())[0].remote_id
    proxy = FaultProxy(server.base)
    proxy.fault("REPORT", delay=2.5)

    class Impatient(CalDavBackend):
        bulk_timeout = 1.0

    settings = backend.account.settings.caldav
    slow = Impatient(_account_at(proxy.base, settings.username))
    try:
        with pytest.raises(errors.Unavailable) as caught:
            await slow.changes(calendar, "")
        assert caught.value.reason == "UPSTREAM_TIMEOUT"
        assert "1s" in caught.value.message
        proxy.clear()
        assert (await slow.changes(calendar, "")).items == []
    finally:
        await slow.aclose()
        proxy.stop()


def _account_at(url: str, user: str) -> acc_pb.Account:
    settings = acc_pb.CalDavSettings(url=url + "/", username=user, password=PASSWORD)
    return acc_pb.Account(settings=acc_pb.ConnectorSettings(caldav=settings))


async def test_primary_is_the_schedule_default_calendar(tmp_path: Path) -> None:
    from almanac.v1 import calendar_service_pb2 as cal_pb

    from tests.connectors.caldav.servers import Xandikos

    server = Xandikos(tmp_path)
    server.start()
    settings = acc_pb.CalDavSettings(url=server.base + "/")
    backend = CalDavBackend(acc_pb.Account(settings=acc_pb.ConnectorSettings(caldav=settings)))
    try:
        assert (await backend.homes()).default_calendar.rstrip("/") == "/user/calendars/calendar"
        await backend.create_calendar(cal_pb.Calendar(display_name="Another"))
        calendars = await backend.list_calendars()
        assert len(calendars) == 2
        assert [c.remote_id for c in calendars if c.default] == ["/user/calendars/calendar/"]
    finally:
        await backend.aclose()
        server.stop()
