"""EventService fields: every field round-trips, defaults, raw, iCalendar UIDs, limits."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import struct_pb2

from tests.helpers import Almanac, TestAccount, expect_error, on_each_store
from tests.services.events.support import EventsOf, at, day, local, names, utc

Code = grpc.StatusCode
Role = ev_pb.AttendeeRole
Status = ev_pb.ResponseStatus


def _raw() -> struct_pb2.Struct:
    raw = struct_pb2.Struct()
    raw.update({"object": {"colorId": "5", "nested": {"a": [1, "b"]}}})
    return raw


def _full_event() -> ev_pb.Event:
    start = local("Europe/Berlin", 2026, 4, 14, 9)
    return ev_pb.Event(
        display_name="Quarterly review",
        description="Numbers.\nAnd more numbers.",
        location="Room 4.2",
        start=at(start),
        end=at(start + dt.timedelta(hours=2)),
        organizer=ev_pb.Person(id="p-1", display_name="Olga", email="olga@example.com"),
        attendees=[
            ev_pb.Attendee(
                email="ann@example.com",
                display_name="Ann",
                id="a-1",
                response_status=Status.RESPONSE_STATUS_ACCEPTED,
                required=False,
                role=Role.ATTENDEE_ROLE_CHAIR,
                can_edit=True,
                comment="I'll chair",
            ),
            ev_pb.Attendee(
                email="bob@example.com",
                response_status=Status.RESPONSE_STATUS_DECLINED,
                required=True,
                role=Role.ATTENDEE_ROLE_NON_PARTICIPANT,
            ),
            ev_pb.Attendee(
                email="cy@example.com",
                response_status=Status.RESPONSE_STATUS_TENTATIVE,
                required=True,
                role=Role.ATTENDEE_ROLE_PARTICIPANT,
            ),
        ],
        attachments=[
            ev_pb.Attachment(
                id="f-1",
                display_name="deck.pdf",
                url="https://files.example.com/deck.pdf",
                mime_type="application/pdf",
            )
        ],
        use_default_reminders=False,
        reminders=[
            ev_pb.Reminder(minutes=10, method=common_pb2.REMINDER_METHOD_POPUP, popup="Soon"),
            ev_pb.Reminder(
                minutes=1440,
                method=common_pb2.REMINDER_METHOD_EMAIL,
                email=ev_pb.ReminderEmail(
                    summary="Tomorrow", description="Review", to=["ann@example.com"]
                ),
            ),
        ],
        custom_properties=[
            ev_pb.CustomProperty(key="crm-id", value="42", private=False),
            ev_pb.CustomProperty(key="color-hint", value="blue", private=True),
        ],
        visibility=ev_pb.VISIBILITY_PRIVATE,
        transparent=True,
        status=ev_pb.EVENT_STATUS_TENTATIVE,
        categories=["finance", "quarterly"],
        event_type="review",
        color="#ABCDEF",
        ical_uid="review-2026-q2@example.com",
        raw=_raw(),
    )


def _calendar(account: TestAccount) -> str:
    return account.create_calendar(
        "Team",
        time_zone="Europe/Berlin",
        event_types=[
            cal_pb.EventType(id="review", display_name="Reviews", color="#112233"),
            cal_pb.EventType(id="plain", display_name="No colour"),
        ],
    ).name


@on_each_store
def test_every_field_round_trips(almanac: Almanac, account: TestAccount) -> None:
    cal = _calendar(account)
    events = EventsOf(account)
    sent = _full_event()
    created = events.stub.CreateEvent(ev_pb.CreateEventRequest(parent=cal, event=sent))
    output_only = {
        "name", "all_day", "creator", "recurrence_type", "create_time", "update_time", "etag",
    }  # fmt: skip
    for field in ev_pb.Event.DESCRIPTOR.fields:
        if field.name in output_only:
            continue
        assert getattr(created, field.name) == getattr(sent, field.name), field.name
    assert created.raw == sent.raw  # CreateEvent returns the stored event with raw

    got = events.get(created.name, include_raw=True)
    assert got == created
    plain = events.get(created.name)
    assert not plain.HasField("raw")
    expected = ev_pb.Event()
    expected.CopyFrom(created)
    expected.ClearField("raw")
    assert plain == expected

    window = (utc(2026, 4, 1), utc(2026, 5, 1))
    assert events.window(*window, cal) == [expected]
    assert events.window(*window, cal, include_raw=True) == [created]


def test_defaults_of_attendees_reminders_and_properties(
    almanac: Almanac, account: TestAccount
) -> None:
    events = EventsOf(account)
    created = events.create(
        start=day(2026, 4, 1),
        attendees=[ev_pb.Attendee(email="dee@example.com")],
        reminders=[ev_pb.Reminder(minutes=5)],
        custom_properties=[ev_pb.CustomProperty(key="k", value="v")],
    )
    (attendee,) = created.attendees
    assert attendee.response_status == Status.RESPONSE_STATUS_PENDING
    assert attendee.role == Role.ATTENDEE_ROLE_PARTICIPANT
    assert attendee.HasField("required") and attendee.required
    assert not attendee.can_edit and not attendee.resource
    assert created.reminders[0].method == common_pb2.REMINDER_METHOD_POPUP
    assert created.HasField("use_default_reminders") and not created.use_default_reminders
    assert created.custom_properties[0].HasField("private")
    assert created.custom_properties[0].private
    assert created.visibility in (ev_pb.VISIBILITY_DEFAULT, ev_pb.VISIBILITY_UNSPECIFIED)
    assert created.status == ev_pb.EVENT_STATUS_CONFIRMED
    assert not created.transparent

    bare = events.create(start=day(2026, 4, 2))
    assert bare.use_default_reminders
    assert not bare.reminders and not bare.attendees and not bare.custom_properties


def test_attendee_resource_is_output_only(almanac: Almanac, account: TestAccount) -> None:
    """`Attendee.resource` is OUTPUT_ONLY: a client's value is ignored (AIP-203)."""
    events = EventsOf(account)
    created = events.create(
        start=day(2026, 4, 1), attendees=[ev_pb.Attendee(email="dee@example.com", resource=True)]
    )
    # dee@example.com is no Resource of the account.
    assert not created.attendees[0].resource
    assert not events.get(created.name).attendees[0].resource


def test_color_defaults_to_the_event_types(almanac: Almanac, account: TestAccount) -> None:
    cal = _calendar(account)
    events = EventsOf(account)
    typed = events.create(cal, start=day(2026, 4, 1), event_type="review")
    assert (typed.event_type, typed.color) == ("review", "#112233")
    own = events.create(cal, start=day(2026, 4, 1), event_type="review", color="#000001")
    assert own.color == "#000001"
    colourless = events.create(cal, start=day(2026, 4, 1), event_type="plain")
    assert colourless.color == ""
    err = expect_error(
        Code.INVALID_ARGUMENT, lambda: events.create(cal, start=day(2026, 4, 1), event_type="nope")
    )
    assert err.fields == {"event.event_type"}
    err = expect_error(
        Code.INVALID_ARGUMENT, lambda: events.create(cal, start=day(2026, 4, 1), color="blue")
    )
    assert err.fields == {"event.color"}


@on_each_store
def test_ical_uid_given_generated_and_unique(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    generated = events.create(start=day(2026, 4, 1))
    other = events.create(start=day(2026, 4, 1))
    assert generated.ical_uid and other.ical_uid and generated.ical_uid != other.ical_uid
    given = events.create(start=day(2026, 4, 1), ical_uid="given@example.com")
    assert given.ical_uid == "given@example.com"
    err = expect_error(
        Code.ALREADY_EXISTS,
        lambda: events.create(start=day(2026, 5, 1), ical_uid="given@example.com"),
    )
    assert err.reason
    # Stable across calendars: another calendar may hold the same UID.
    cal = account.create_calendar("Second").name
    copy = events.create(cal, start=day(2026, 4, 1), ical_uid="given@example.com")
    assert copy.ical_uid == given.ical_uid
    # Immutable: an update cannot change it.
    expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.update(ev_pb.Event(name=given.name, ical_uid="new@example.com"), "ical_uid"),
    )
    assert events.get(given.name).ical_uid == "given@example.com"


# --- limits -------------------------------------------------------------------------

_START = day(2026, 9, 1)
_RRULE = "FREQ=DAILY;COUNT=3"


def _over(field: str) -> tuple[dict[str, object], str]:
    """Event fields one past a documented limit, and the field path to name."""
    attendees = [ev_pb.Attendee(email=f"p{i}@example.com") for i in range(501)]
    over: dict[str, tuple[dict[str, object], str]] = {
        "display_name": ({"display_name": "x" * 1025}, "event.display_name"),
        "description": ({"description": "x" * 65_537}, "event.description"),
        "location": ({"location": "x" * 1025}, "event.location"),
        "attendees": ({"attendees": attendees}, "event.attendees"),
        "reminders": (
            {"reminders": [ev_pb.Reminder(minutes=i) for i in range(11)]},
            "event.reminders",
        ),
        "attachments": (
            {"attachments": [ev_pb.Attachment(url=f"https://x.io/{i}") for i in range(51)]},
            "event.attachments",
        ),
        "custom_properties": (
            {
                "custom_properties": [
                    ev_pb.CustomProperty(key=f"k{i}", value="v") for i in range(101)
                ]
            },
            "event.custom_properties",
        ),
        "custom_key": (
            {"custom_properties": [ev_pb.CustomProperty(key="k" * 257, value="v")]},
            "event.custom_properties[0].key",
        ),
        "custom_value": (
            {"custom_properties": [ev_pb.CustomProperty(key="k", value="v" * 8193)]},
            "event.custom_properties[0].value",
        ),
        "categories": ({"categories": [f"c{i}" for i in range(51)]}, "event.categories"),
        "category": ({"categories": ["ok", "c" * 257]}, "event.categories[1]"),
        "rrules": (
            {"recurrence": ev_pb.Recurrence(rrules=[_RRULE] * 11)},
            "event.recurrence.rrules",
        ),
        "rdates": (
            {"recurrence": ev_pb.Recurrence(rdates=[day(2027, 1, 1)] * 1001)},
            "event.recurrence.rdates",
        ),
        "exdates": (
            {"recurrence": ev_pb.Recurrence(rrules=[_RRULE], exdates=[day(2027, 1, 1)] * 1001)},
            "event.recurrence.exdates",
        ),
        "reminder_minutes": (
            {"reminders": [ev_pb.Reminder(minutes=40_321)]},
            "event.reminders[0].minutes",
        ),
    }
    return over[field]


_LIMITED = [
    "display_name", "description", "location", "attendees", "reminders", "attachments",
    "custom_properties", "custom_key", "custom_value", "categories", "category", "rrules",
    "rdates", "exdates", "reminder_minutes",
]  # fmt: skip


@pytest.mark.parametrize("limit", _LIMITED)
def test_each_limit_names_its_field(almanac: Almanac, account: TestAccount, limit: str) -> None:
    events = EventsOf(account)
    fields, path = _over(limit)
    err = expect_error(Code.INVALID_ARGUMENT, lambda: events.create(start=_START, **fields))
    assert path in err.fields, (path, err.fields)
    assert events.window(utc(2026, 8, 1), utc(2026, 10, 1)) == []


def test_everything_at_its_limit_is_accepted(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    created = events.create(
        start=_START,
        display_name="d" * 1024,
        description="x" * 65_536,
        location="l" * 1024,
        attendees=[ev_pb.Attendee(email=f"p{i}@example.com") for i in range(500)],
        reminders=[ev_pb.Reminder(minutes=40_320 - i) for i in range(10)],
        attachments=[ev_pb.Attachment(url=f"https://x.io/{i}") for i in range(50)],
        custom_properties=[
            ev_pb.CustomProperty(key="k" * 255 + str(i), value="v" * 8192) for i in range(10)
        ]
        + [ev_pb.CustomProperty(key=f"key{i}", value="v") for i in range(90)],
        categories=[("c" * 253) + f"{i:03d}" for i in range(50)],
        recurrence=ev_pb.Recurrence(
            rrules=[f"FREQ=WEEKLY;COUNT={i + 1}" for i in range(10)],
            rdates=[_plus_days(i) for i in range(1000)],
            exdates=[_plus_days(i) for i in range(1000)],
        ),
    )
    assert len(created.attendees) == 500 and len(created.custom_properties) == 100
    assert len(created.recurrence.rrules) == 10
    assert events.get(created.name) == _without_raw(created)


def _plus_days(n: int) -> common_pb2.EventTime:
    d = dt.date(2027, 1, 1) + dt.timedelta(days=n)
    return day(d.year, d.month, d.day)


def _without_raw(event: ev_pb.Event) -> ev_pb.Event:
    out = ev_pb.Event()
    out.CopyFrom(event)
    out.ClearField("raw")
    return out


@on_each_store
def test_several_bad_fields_are_named_at_once_and_nothing_is_written(
    almanac: Almanac, account: TestAccount
) -> None:
    events = EventsOf(account)
    start = utc(2026, 9, 1, 10)
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.create(
            display_name="x" * 1025,
            start=at(start, "UTC"),
            end=at(start - dt.timedelta(hours=1), "UTC"),
            attendees=[ev_pb.Attendee(email="not-an-email"), ev_pb.Attendee(email="")],
            categories=[f"c{i}" for i in range(51)],
            custom_properties=[ev_pb.CustomProperty(key="k", value="v" * 8193)],
            attachments=[ev_pb.Attachment(url="ftp://x/y")],
            color="red",
        ),
    )
    assert {
        "event.display_name",
        "event.end",
        "event.attendees[0].email",
        "event.attendees[1].email",
        "event.categories",
        "event.custom_properties[0].value",
        "event.attachments[0].url",
        "event.color",
    } <= err.fields, err.fields
    assert events.window(utc(2026, 8, 1), utc(2026, 10, 1)) == []
    assert events.window(utc(2026, 8, 1), utc(2026, 10, 1), show_deleted=True) == []


def test_attendee_emails_are_unique(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.create(
            start=_START,
            attendees=[
                ev_pb.Attendee(email="a@example.com"),
                ev_pb.Attendee(email="A@example.com"),
            ],
        ),
    )
    assert err.fields == {"event.attendees[1].email"}


def test_limits_apply_on_update_too(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    created = events.create(start=_START, display_name="ok")
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.update(
            ev_pb.Event(
                name=created.name,
                display_name="x" * 1025,
                categories=[f"c{i}" for i in range(51)],
            ),
            "display_name",
            "categories",
        ),
    )
    assert err.fields == {"event.display_name", "event.categories"}
    assert events.get(created.name) == _without_raw(created)
    assert names(events.window(utc(2026, 8, 1), utc(2026, 10, 1))) == [created.name]


def test_raw_is_replaced_by_an_update(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    created = events.create(start=day(2026, 4, 1), raw=_raw())
    new_raw = struct_pb2.Struct()
    new_raw.update({"object": {"colorId": "9"}})
    updated = events.update(ev_pb.Event(name=created.name, raw=new_raw), "raw")
    assert not updated.HasField("raw")  # UpdateEvent has no include_raw
    assert events.get(created.name, include_raw=True).raw == new_raw
    assert not events.get(created.name).HasField("raw")
