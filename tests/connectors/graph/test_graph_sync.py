"""The Graph connector through the real processes, against the fake Graph.

Two-way sync of every mapped field, series with exceptions and cancelled
occurrences both ways, refused recurrences, the delta reset, throttling and
re-authentication. Each test ends with no schema violation in the fake.
"""

from __future__ import annotations

from typing import Any

import grpc
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2

from tests.connectors.graph.fake import FakeGraph
from tests.connectors.graph.targets import graph_account
from tests.connectors.support import MirrorSuite
from tests.helpers import expect_error
from tests.services.events.support import at, local, utc

Code = grpc.StatusCode
PACIFIC = "Pacific Standard Time"
WRITES = frozenset({"POST", "PATCH", "DELETE"})


def _user(account: acc_pb.Account) -> str:
    return account.name.split("/")[1]


def _list(
    suite: MirrorSuite, account: acc_pb.Account, expansion: int = ev_pb.EXPANSION_MASTERS
) -> list[ev_pb.Event]:
    reply = suite.almanac.events().ListEvents(
        ev_pb.ListEventsRequest(
            parent=f"{account.name}/calendars/primary",
            start_time=at(utc(2026, 10, 1)).date_time,
            end_time=at(utc(2027, 1, 31)).date_time,
            expansion=expansion,
            page_size=500,
        )
    )
    return list(reply.events)


def _upstream_create(fake: FakeGraph, user: str, body: dict[str, Any]) -> dict[str, Any]:
    status, made = fake.call(user, "POST", f"calendars/{fake.default_calendar(user)}/events", body)
    assert status == 201, made
    return dict(made)


def _wall(day: int, hour: int, zone: str = PACIFIC, month: int = 11) -> dict[str, str]:
    return {"dateTime": f"2026-{month:02d}-{day:02d}T{hour:02d}:00:00.0000000", "timeZone": zone}


def test_upstream_event_arrives_with_every_mapped_field(
    mirror_suite: MirrorSuite, graph_clean: FakeGraph
) -> None:
    account = graph_account(mirror_suite, graph_clean)
    user = _user(account)
    made = _upstream_create(
        graph_clean,
        user,
        {
            "subject": "Planning",
            "body": {"contentType": "text", "content": "Agenda"},
            "location": {"displayName": "Room 1"},
            "start": _wall(10, 9),
            "end": _wall(10, 10),
            "categories": ["Blue", "Work"],
            "sensitivity": "private",
            "showAs": "free",
            "isReminderOn": True,
            "reminderMinutesBeforeStart": 30,
            "attendees": [
                {
                    "emailAddress": {"address": "ann@example.com", "name": "Ann"},
                    "type": "required",
                    "status": {"response": "accepted", "time": "2026-11-01T10:00:00Z"},
                },
                {"emailAddress": {"address": "bob@example.com", "name": "Bob"}, "type": "optional"},
                {
                    "emailAddress": {"address": "room@example.com", "name": "Room"},
                    "type": "resource",
                },
            ],
        },
    )
    mirror_suite.sync_now(user)
    (event,) = _list(mirror_suite, account)
    assert event.ical_uid == made["iCalUId"]
    assert (event.display_name, event.description, event.location) == (
        "Planning",
        "Agenda",
        "Room 1",
    )
    assert event.start == at(local("America/Los_Angeles", 2026, 11, 10, 9))
    assert list(event.categories) == ["Blue", "Work"]
    assert event.visibility == ev_pb.VISIBILITY_PRIVATE and event.transparent
    assert [r.minutes for r in event.reminders] == [30]
    people = {a.email: a for a in event.attendees}
    assert people["ann@example.com"].response_status == ev_pb.RESPONSE_STATUS_ACCEPTED
    assert people["bob@example.com"].HasField("required") and not people["bob@example.com"].required
    assert people["room@example.com"].resource
    assert event.organizer.email == f"{user}@contoso.example"

    graph_clean.call(
        user, "PATCH", f"events/{made['id']}", {"subject": "Planning v2", "showAs": "tentative"}
    )
    mirror_suite.sync_now(user)
    (event,) = _list(mirror_suite, account)
    assert event.display_name == "Planning v2"
    assert event.status == ev_pb.EVENT_STATUS_TENTATIVE and not event.transparent

    graph_clean.call(user, "DELETE", f"events/{made['id']}")
    mirror_suite.sync_now(user)
    assert _list(mirror_suite, account) == []


def test_almanac_event_reaches_graph_in_its_windows_zone(
    mirror_suite: MirrorSuite, graph_clean: FakeGraph
) -> None:
    account = graph_account(mirror_suite, graph_clean)
    user = _user(account)
    created = mirror_suite.almanac.events().CreateEvent(
        ev_pb.CreateEventRequest(
            parent=f"{account.name}/calendars/primary",
            event=ev_pb.Event(
                display_name="Review",
                description="Notes",
                location="Berlin office",
                start=at(local("Europe/Berlin", 2026, 11, 12, 9)),
                end=at(local("Europe/Berlin", 2026, 11, 12, 10)),
                visibility=ev_pb.VISIBILITY_CONFIDENTIAL,
                categories=["Red"],
                attendees=[
                    ev_pb.Attendee(email="ann@example.com", required=False),
                    ev_pb.Attendee(email="cy@example.com"),
                ],
                use_default_reminders=False,
                reminders=[ev_pb.Reminder(minutes=10)],
            ),
        )
    )
    (stored,) = graph_clean.events(user)
    assert stored["transactionId"] == created.ical_uid
    assert stored["start"] == {
        "dateTime": "2026-11-12T09:00:00.0000000",
        "timeZone": "W. Europe Standard Time",
    }
    assert (stored["subject"], stored["body"]["content"], stored["location"]["displayName"]) == (
        "Review",
        "Notes",
        "Berlin office",
    )
    assert stored["sensitivity"] == "confidential" and stored["categories"] == ["Red"]
    assert stored["showAs"] == "busy"
    assert [(a["emailAddress"]["address"], a["type"]) for a in stored["attendees"]] == [
        ("ann@example.com", "optional"),
        ("cy@example.com", "required"),
    ]
    assert (stored["isReminderOn"], stored["reminderMinutesBeforeStart"]) == (True, 10)
    # The write comes back from the next sync as no change at all.
    mirror_suite.sync_now(user)
    (again,) = _list(mirror_suite, account)
    assert again.etag == created.etag


def test_series_with_exceptions_both_ways(
    mirror_suite: MirrorSuite, graph_clean: FakeGraph
) -> None:
    account = graph_account(mirror_suite, graph_clean)
    user = _user(account)
    master = _upstream_create(
        graph_clean,
        user,
        {
            "subject": "Standup",
            "start": _wall(16, 9),
            "end": _wall(16, 10),
            "recurrence": {
                "pattern": {
                    "type": "weekly",
                    "interval": 1,
                    "daysOfWeek": ["monday", "wednesday"],
                    "firstDayOfWeek": "sunday",
                },
                "range": {
                    "type": "numbered",
                    "numberOfOccurrences": 6,
                    "startDate": "2026-11-16",
                    "recurrenceTimeZone": PACIFIC,
                },
            },
        },
    )
    graph_clean.call(user, "PATCH", f"events/{master['id']}_20261118", {"subject": "Standup!"})
    graph_clean.call(user, "DELETE", f"events/{master['id']}_20261123")
    mirror_suite.sync_now(user)
    instances = _list(mirror_suite, account, ev_pb.EXPANSION_INSTANCES)
    got = [(e.start.date_time.ToDatetime().day, e.display_name) for e in instances]
    assert got == [
        (16, "Standup"),
        (18, "Standup!"),
        (25, "Standup"),
        (30, "Standup"),
        (2, "Standup"),
    ]
    (series,) = [e for e in _list(mirror_suite, account) if not e.HasField("original_start")]
    assert list(series.recurrence.rrules) == ["FREQ=WEEKLY;COUNT=6;BYDAY=MO,WE"]
    # Almanac edits one more instance and cancels another: Graph gets both.
    events = mirror_suite.almanac.events()
    events.UpdateEvent(
        ev_pb.UpdateEventRequest(
            event=ev_pb.Event(name=f"{series.name}_20261125T170000Z", display_name="Moved"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
            scope=ev_pb.RECURRENCE_SCOPE_THIS_INSTANCE,
        )
    )
    before = len(graph_clean.requests)
    events.DeleteEvent(
        ev_pb.DeleteEventRequest(
            name=f"{series.name}_20261130T170000Z", scope=ev_pb.RECURRENCE_SCOPE_THIS_INSTANCE
        )
    )
    writes = [(m, p) for u, m, p in graph_clean.requests[before:] if u == user and m != "GET"]
    # The master (new EXDATE) and the one occurrence; the held exceptions are left alone.
    assert writes == [("PATCH", f"events/{master['id']}"),
                      ("DELETE", f"events/{master['id']}_20261130")]  # fmt: skip
    (stored,) = graph_clean.events(user)
    assert sorted(e["subject"] for e in stored["_exceptions"]) == ["Moved", "Standup!"]
    assert sorted(stored["cancelledOccurrences"]) == [
        f"OID.{master['id']}.2026-11-23",
        f"OID.{master['id']}.2026-11-30",
    ]


def test_recurrence_graph_cannot_hold_is_refused_and_nothing_written(
    mirror_suite: MirrorSuite, graph_clean: FakeGraph
) -> None:
    account = graph_account(mirror_suite, graph_clean)
    failure = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: mirror_suite.almanac.events().CreateEvent(
            ev_pb.CreateEventRequest(
                parent=f"{account.name}/calendars/primary",
                event=ev_pb.Event(
                    display_name="Often",
                    start=at(utc(2026, 11, 3, 9)),
                    end=at(utc(2026, 11, 3, 10)),
                    recurrence=ev_pb.Recurrence(rrules=["FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-2"]),
                ),
            )
        ),
    )
    assert "event.recurrence.rrules[0]" in failure.fields
    assert "BYSETPOS=-2" in failure.message
    assert graph_clean.events(_user(account)) == []
    assert _list(mirror_suite, account) == []


def test_delta_reset_resyncs_to_exactly_the_upstream(
    mirror_suite: MirrorSuite, graph_clean: FakeGraph
) -> None:
    account = graph_account(mirror_suite, graph_clean)
    user = _user(account)
    keep = _upstream_create(
        graph_clean, user, {"subject": "Keep", "start": _wall(4, 9), "end": _wall(4, 10)}
    )
    gone = _upstream_create(
        graph_clean, user, {"subject": "Gone", "start": _wall(5, 9), "end": _wall(5, 10)}
    )
    mirror_suite.sync_now(user)
    assert {e.display_name for e in _list(mirror_suite, account)} == {"Keep", "Gone"}
    graph_clean.expire_tokens(user)
    graph_clean.call(user, "DELETE", f"events/{gone['id']}")
    graph_clean.call(user, "PATCH", f"events/{keep['id']}", {"subject": "Kept"})
    _upstream_create(
        graph_clean, user, {"subject": "New", "start": _wall(6, 9), "end": _wall(6, 10)}
    )
    before = len(graph_clean.requests)
    mirror_suite.sync_now(user)
    assert {e.display_name for e in _list(mirror_suite, account)} == {"Kept", "New"}
    delta_calls = [
        p
        for u, m, p in graph_clean.requests[before:]
        if u == user and p.endswith("calendarView/delta")
    ]
    assert delta_calls, "the resync starts a new delta round"
    state = mirror_suite.almanac.accounts().GetAccount(acc_pb.GetAccountRequest(name=account.name))
    assert state.sync_state.consecutive_failures == 0


def test_throttling_is_waited_out_or_reported_with_its_delay(
    mirror_suite: MirrorSuite, graph_clean: FakeGraph
) -> None:
    account = graph_account(mirror_suite, graph_clean)
    user = _user(account)
    events = mirror_suite.almanac.events()

    def create(title: str) -> ev_pb.Event:
        return events.CreateEvent(
            ev_pb.CreateEventRequest(
                parent=f"{account.name}/calendars/primary",
                event=ev_pb.Event(
                    display_name=title, start=at(utc(2026, 11, 9, 9)), end=at(utc(2026, 11, 9, 10))
                ),
            )
        )

    graph_clean.throttled.clear()
    # Writes only: the sync worker's reads of this and other accounts go on meanwhile.
    graph_clean.throttle(2, status=429, retry_after=0.3, user=user, methods=WRITES)
    create("After a short wait")
    assert [s for u, s in graph_clean.throttled if u == user] == [429, 429]
    graph_clean.throttle(1, status=429, retry_after=30, user=user, methods=WRITES)
    failure = expect_error(Code.RESOURCE_EXHAUSTED, lambda: create("Too soon"))
    info = error_details_pb2.RetryInfo()
    assert any(
        d.Unpack(info)
        for d in failure.status.details
        if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)
    )
    assert info.retry_delay.seconds == 30
    graph_clean.throttle(1, status=503, retry_after=20, user=user, methods=WRITES)
    expect_error(Code.UNAVAILABLE, lambda: create("Down"))
    graph_clean.faults.clear()
    assert [e["subject"] for e in graph_clean.events(user)] == ["After a short wait"]
    assert [e.display_name for e in _list(mirror_suite, account)] == ["After a short wait"]


def test_revoked_consent_asks_for_reauthentication(
    mirror_suite: MirrorSuite, graph_clean: FakeGraph
) -> None:
    account = graph_account(mirror_suite, graph_clean)
    graph_clean.revoke(_user(account))
    failure = expect_error(
        Code.UNAUTHENTICATED,
        lambda: mirror_suite.almanac.events().CreateEvent(
            ev_pb.CreateEventRequest(
                parent=f"{account.name}/calendars/primary",
                event=ev_pb.Event(
                    display_name="x", start=at(utc(2026, 11, 9, 9)), end=at(utc(2026, 11, 9, 10))
                ),
            )
        ),
    )
    assert failure.reason == "ACCOUNT_REAUTH_REQUIRED"
    settings = acc_pb.MicrosoftGraphSettings(
        tenant="contoso",
        client_id="app",
        client_secret="graph-secret",
        refresh_token="bogus",
        api_base_url=graph_clean.api_url,
        token_url=graph_clean.token_url(),
    )
    refused = expect_error(
        Code.UNAUTHENTICATED,
        lambda: mirror_suite.almanac.accounts().CreateAccount(
            acc_pb.CreateAccountRequest(
                account=acc_pb.Account(
                    connector=acc_pb.CONNECTOR_TYPE_MICROSOFT_GRAPH,
                    settings=acc_pb.ConnectorSettings(microsoft_graph=settings),
                )
            )
        ),
    )
    assert refused.reason == "ACCOUNT_REAUTH_REQUIRED"


def test_a_series_across_dst_lists_the_same_instants_in_graph_and_almanac(
    mirror_suite: MirrorSuite, graph_clean: FakeGraph
) -> None:
    account = graph_account(mirror_suite, graph_clean)
    user = _user(account)
    mirror_suite.almanac.events().CreateEvent(
        ev_pb.CreateEventRequest(
            parent=f"{account.name}/calendars/primary",
            event=ev_pb.Event(
                display_name="Across",
                start=at(local("Europe/Berlin", 2026, 10, 23, 9)),
                end=at(local("Europe/Berlin", 2026, 10, 23, 10)),
                recurrence=ev_pb.Recurrence(rrules=["FREQ=WEEKLY;BYDAY=FR,MO;COUNT=4"]),
            ),
        )
    )
    (master,) = graph_clean.events(user)
    assert master["recurrence"]["pattern"]["daysOfWeek"] == ["monday", "friday"]
    assert master["recurrence"]["range"]["recurrenceTimeZone"] == "W. Europe Standard Time"
    status, listed = graph_clean.call(
        user, "GET", f"events/{master['id']}/instances?startDateTime=2026-10-01T00:00:00"
        "&endDateTime=2026-12-01T00:00:00",
        headers={"Prefer": 'outlook.timezone="UTC"'},
    )  # fmt: skip
    assert status == 200
    graph_starts = [i["start"]["dateTime"][:16] for i in listed["value"]]
    almanac = [e.start.date_time.ToDatetime().strftime("%Y-%m-%dT%H:%M")
               for e in _list(mirror_suite, account, ev_pb.EXPANSION_INSTANCES)]  # fmt: skip
    assert graph_starts == almanac == [
        "2026-10-23T07:00", "2026-10-26T08:00", "2026-10-30T08:00", "2026-11-02T08:00"]  # fmt: skip
