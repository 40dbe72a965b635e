"""Two-way sync with real CalDAV servers, through the real Almanac processes.

An event made through Almanac is on the server at once (read with plain
HTTP); an event made, changed or deleted on the server by another client
reaches ListEvents and StreamActivity (with its changed fields) within one
sync interval; what Almanac does not map survives Almanac's edits; busy
time is computed across a local and a CalDAV calendar.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import availability_service_pb2 as av_pb
from almanac.v1 import availability_service_pb2_grpc as av_grpc
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import duration_pb2, field_mask_pb2

from tests.connectors.caldav.servers import Radicale, Xandikos
from tests.connectors.caldav.targets import DavUpstream, caldav_account, propfind
from tests.connectors.support import INTERVAL, MirrorSuite
from tests.services.events.support import at, utc

ADDED, UPDATED, DELETED = (
    act_pb.ACTIVITY_TYPE_ADDED,
    act_pb.ACTIVITY_TYPE_UPDATED,
    act_pb.ACTIVITY_TYPE_DELETED,
)


def ics(uid: str, title: str, day: int = 2, hour: int = 9, extra: str = "") -> bytes:
    """An event as another CalDAV client writes it."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other client//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:{title}\r\n"
        f"DTSTART:202611{day:02d}T{hour:02d}0000Z\r\nDTEND:202611{day:02d}T{hour + 1:02d}0000Z\r\n"
        f"{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


class Account:
    """A CalDAV account in Almanac and the same data seen by another client."""

    def __init__(
        self, suite: MirrorSuite, server: Radicale | Xandikos, user: str, home: str
    ) -> None:
        self.suite = suite
        self.account = caldav_account(suite, server.base + "/", user)
        self.id = self.account.name.split("/")[1]
        self.http = server.http(user)
        calendar = next(href for href, _, cal in propfind(self.http, home) if cal)
        self.upstream = DavUpstream(self.http, home, calendar)

    def put(self, uid: str, body: bytes) -> None:
        reply = self.http.put(
            f"{self.upstream.calendar}{uid}.ics",
            content=body,
            headers={"Content-Type": "text/calendar"},
        )
        assert reply.status_code in (201, 204), reply.text

    def delete(self, uid: str) -> None:
        assert self.http.delete(f"{self.upstream.calendar}{uid}.ics").status_code in (200, 204)

    def titles(self) -> dict[str, str]:
        reply = self.suite.almanac.events().ListEvents(
            ev_pb.ListEventsRequest(
                parent=f"{self.account.name}/calendars/primary",
                start_time=at(utc(2026, 10, 1)).date_time,
                end_time=at(utc(2026, 12, 31)).date_time,
                expansion=ev_pb.EXPANSION_MASTERS,
                page_size=1000,
            )
        )
        return {e.ical_uid: e.display_name for e in reply.events}


@pytest.fixture(params=["radicale", "xandikos"])
def dav(
    request: pytest.FixtureRequest, caldav_suite: MirrorSuite, radicale: Radicale, tmp_path: Path
) -> Iterator[Account]:
    if request.param == "radicale":
        user = radicale.add_user()
        account = Account(caldav_suite, radicale, user, f"/{user}/")
        yield account
        account.http.close()
        return
    server = Xandikos(tmp_path)
    server.start()
    try:
        account = Account(caldav_suite, server, "", "/user/calendars/")
        yield account
        account.http.close()
    finally:
        server.stop()


def test_an_event_made_in_almanac_is_on_the_server_at_once(dav: Account) -> None:
    events = dav.suite.almanac.events()
    created = events.CreateEvent(
        ev_pb.CreateEventRequest(
            parent=f"{dav.account.name}/calendars/primary",
            event=ev_pb.Event(
                display_name="Planning",
                start=at(utc(2026, 11, 3, 10)),
                end=at(utc(2026, 11, 3, 11)),
                recurrence=ev_pb.Recurrence(rrules=["FREQ=WEEKLY;COUNT=4"]),
            ),
        )
    )
    documents = dav.upstream.documents()
    assert len(documents) == 1
    vevent = next(iter(documents.values())).walk("VEVENT")[0]
    assert str(vevent["UID"]) == created.ical_uid
    assert str(vevent["SUMMARY"]) == "Planning"
    assert vevent["RRULE"]["FREQ"] == ["WEEKLY"]
    # One instance moved: still one resource, master and exception.
    events.UpdateEvent(
        ev_pb.UpdateEventRequest(
            event=ev_pb.Event(name=f"{created.name}_20261110T100000Z", display_name="Moved"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
            scope=ev_pb.RECURRENCE_SCOPE_THIS_INSTANCE,
        )
    )
    assert dav.upstream.series() == {created.ical_uid: ["Planning", "Moved"]}
    events.DeleteEvent(ev_pb.DeleteEventRequest(name=created.name))
    assert dav.upstream.documents() == {}


def test_changes_by_another_client_reach_list_and_stream(dav: Account) -> None:
    sub = dav.suite.cluster.activity().subscribe(
        "caldav",
        parent=dav.account.name,
        start_position=act_pb.START_POSITION_NOW,
        resource_types=[common_pb2.RESOURCE_TYPE_EVENT],
        heartbeat=1,
    )
    try:
        sub.wait_for(lambda: bool(sub.items), 10, "the first heartbeat")
        steps = [
            (lambda: dav.put("standup", ics("standup", "Standup")), ADDED, "Standup"),
            (lambda: dav.put("standup", ics("standup", "Daily standup")), UPDATED, "Daily standup"),
            (lambda: dav.delete("standup"), DELETED, None),
        ]
        for count, (change, kind, title) in enumerate(steps, start=1):
            started = time.monotonic()
            change()
            sub.wait_for(lambda n=count: len(sub.activities) >= n, 10, f"activity {count}")
            assert time.monotonic() - started < INTERVAL + 2.0
            got = sub.activities[count - 1]
            assert (got.type, got.actor, got.event_snapshot.ical_uid) == (
                kind,
                "upstream",
                "standup",
            )
            assert dav.titles().get("standup") == title
        assert list(sub.activities[1].changed_fields.paths) == ["display_name"]
        assert len(sub.activities) == 3
    finally:
        sub.call.cancel()


def test_unmapped_properties_survive_an_almanac_edit(dav: Account) -> None:
    extra = "GEO:48.85;2.35\r\nX-OTHER-CLIENT;X-P=1:kept\r\nPRIORITY:3\r\n"
    dav.put("keepme", ics("keepme", "Original", extra=extra))
    dav.suite.sync_now(dav.id)
    events = dav.suite.almanac.events()
    listed = events.ListEvents(
        ev_pb.ListEventsRequest(
            parent=f"{dav.account.name}/calendars/primary",
            include_raw=True,
            start_time=at(utc(2026, 11, 1)).date_time,
            end_time=at(utc(2026, 12, 1)).date_time,
        )
    ).events
    assert "X-OTHER-CLIENT" in listed[0].raw.fields["unmapped"].string_value
    events.UpdateEvent(
        ev_pb.UpdateEventRequest(
            event=ev_pb.Event(name=listed[0].name, display_name="Renamed"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        )
    )
    vevent = next(iter(dav.upstream.documents().values())).walk("VEVENT")[0]
    assert str(vevent["SUMMARY"]) == "Renamed"
    assert str(vevent["X-OTHER-CLIENT"]) == "kept"
    assert vevent["PRIORITY"] == 3
    assert vevent["GEO"].latitude == 48.85


def test_busy_time_across_a_local_and_a_caldav_calendar(dav: Account) -> None:
    suite = dav.suite
    local = suite.almanac.create_local_account()
    suite.almanac.events().CreateEvent(
        ev_pb.CreateEventRequest(
            parent=f"{local.name}/calendars/primary",
            event=ev_pb.Event(
                display_name="Local", start=at(utc(2026, 11, 20, 9)), end=at(utc(2026, 11, 20, 10))
            ),
        )
    )
    dav.put("remote", ics("remote", "Remote", day=20, hour=11))
    suite.sync_now(dav.id)
    stub = av_grpc.AvailabilityServiceStub(
        suite.cluster.channel(suite.cluster.address("availability"))
    )
    reply = stub.QueryAvailability(
        av_pb.QueryAvailabilityRequest(
            participants=[
                av_pb.Participant(
                    calendars=[
                        f"{local.name}/calendars/primary",
                        f"{dav.account.name}/calendars/primary",
                    ],
                    ignore_working_hours=True,
                )
            ],
            meeting_duration=duration_pb2.Duration(seconds=3600),
            time_windows=[
                common_pb2.TimeRange(
                    start_time=at(utc(2026, 11, 20, 8)).date_time,
                    end_time=at(utc(2026, 11, 20, 13)).date_time,
                )
            ],
            time_slot_increment=duration_pb2.Duration(seconds=3600),
        ),
        metadata=(("authorization", f"Bearer {suite.almanac.admin_secret}"),),
    )
    hours = [t.start_time.ToDatetime().hour for t in reply.available_times]
    assert hours == [8, 10, 12]


def test_calendars_both_ways(dav: Account) -> None:
    calendars = dav.suite.almanac.calendars()
    calendars.CreateCalendar(
        cal_pb.CreateCalendarRequest(
            parent=dav.account.name,
            calendar=cal_pb.Calendar(display_name="Almanac-made", time_zone="Europe/Berlin"),
        )
    )
    assert "Almanac-made" in dav.upstream.calendar_names()
    body = (
        '<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        "<D:set><D:prop><D:displayname>Other-made</D:displayname></D:prop></D:set></C:mkcalendar>"
    )
    reply = dav.http.request(
        "MKCALENDAR",
        f"{dav.upstream.home}other/",
        content=body,
        headers={"Content-Type": "application/xml"},
    )
    assert reply.status_code == 201, reply.text
    dav.suite.sync_now(dav.id)
    listed = calendars.ListCalendars(cal_pb.ListCalendarsRequest(parent=dav.account.name))
    names = {c.display_name for c in listed.calendars}
    assert {"Almanac-made", "Other-made"} <= names
