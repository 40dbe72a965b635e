"""proto -> ICS -> proto keeps every field the mapping covers."""

from __future__ import annotations

import itertools

import pytest
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.ical import from_ics, to_ics

from .support import at, day, floating, physical_lines, single, stamp

CALENDAR = cal_pb.Calendar(display_name="Work", time_zone="Europe/Berlin")


def round_trip(*events: ev_pb.Event, zone: str = "Europe/Berlin") -> list[ev_pb.Event]:
    data = to_ics(CALENDAR, events)
    for line in physical_lines(data):
        assert len(line) <= 75, line  # folded at 75 octets
    parsed = from_ics(data, default_zone=zone)
    return parsed.events + parsed.exceptions


def full_master() -> ev_pb.Event:
    return ev_pb.Event(
        ical_uid="series-1@example.com",
        display_name="Planning; review, and \\ more\nsecond line",
        description="Agenda:\n1. Plans, risks; blockers\n2. \\N is not a newline",
        location="Room 1; Building B, 2nd floor",
        start=at("Europe/Berlin", 2026, 3, 16, 9),
        end=at("Europe/Berlin", 2026, 3, 16, 10, 30),
        organizer=ev_pb.Person(email="boss@example.com", display_name="Boss, The", id="p-1"),
        attendees=[
            ev_pb.Attendee(
                email="ana@example.com",
                display_name='Ana "A." Silva',
                id="a-1",
                response_status=ev_pb.RESPONSE_STATUS_ACCEPTED,
                required=True,
                role=ev_pb.ATTENDEE_ROLE_PARTICIPANT,
                can_edit=True,
                comment="See you there;\nbringing slides",
            ),
            ev_pb.Attendee(
                email="room@example.com",
                display_name="Room Orion",
                resource=True,
                response_status=ev_pb.RESPONSE_STATUS_TENTATIVE,
                role=ev_pb.ATTENDEE_ROLE_NON_PARTICIPANT,
            ),
        ],
        attachments=[
            ev_pb.Attachment(
                id="f-1",
                display_name="slides, v2.pdf",
                url="https://files.example.com/a?b=1,2&c=3;4",
                mime_type="application/pdf",
            ),
            ev_pb.Attachment(url="https://files.example.com/plain"),
        ],
        use_default_reminders=False,
        reminders=[
            ev_pb.Reminder(minutes=10, method=common_pb2.REMINDER_METHOD_POPUP, popup="Soon"),
            ev_pb.Reminder(minutes=0, method=common_pb2.REMINDER_METHOD_POPUP),
            ev_pb.Reminder(
                minutes=40320,
                method=common_pb2.REMINDER_METHOD_EMAIL,
                email=ev_pb.ReminderEmail(
                    summary="Prepare", description="Slides!", to=["a@x.example", "b@x.example"]
                ),
            ),
        ],
        recurrence=ev_pb.Recurrence(
            rrules=["FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20260630T000000Z", "FREQ=MONTHLY;BYDAY=1FR"],
            rdates=[at("Europe/Berlin", 2026, 3, 21, 9)],
            exdates=[at("Europe/Berlin", 2026, 3, 18, 9), at("Europe/Berlin", 2026, 4, 1, 9)],
        ),
        recurrence_type=ev_pb.RECURRENCE_TYPE_MASTER,
        custom_properties=[
            ev_pb.CustomProperty(key="crm;id", value="4711, \\ 42", private=True),
            ev_pb.CustomProperty(key="shared", value="line1\nline2", private=False),
            ev_pb.CustomProperty(key="plain", value=""),
        ],
        visibility=ev_pb.VISIBILITY_CONFIDENTIAL,
        transparent=True,
        status=ev_pb.EVENT_STATUS_TENTATIVE,
        categories=["Work", "Q1, planning", "a;b"],
        event_type="meeting",
        color="#4E9075",
        create_time=stamp(2026, 1, 1, 8),
        update_time=stamp(2026, 2, 1, 9, 30, 15),
    )


def exception_of(master: ev_pb.Event) -> ev_pb.Event:
    return ev_pb.Event(
        ical_uid=master.ical_uid,
        display_name="Planning (moved)",
        start=at("Europe/Berlin", 2026, 3, 30, 14),
        end=at("Europe/Berlin", 2026, 3, 30, 15),
        original_start=at("Europe/Berlin", 2026, 3, 30, 9),
        recurrence_type=ev_pb.RECURRENCE_TYPE_INSTANCE,
        status=ev_pb.EVENT_STATUS_CONFIRMED,
        update_time=stamp(2026, 2, 2),
    )


def test_every_field_of_a_series_an_exception_and_singles():
    master = full_master()
    exception = exception_of(master)
    all_day = single(
        ical_uid="holiday@example.com",
        start=day(2026, 5, 1),
        end=day(2026, 5, 4),
        all_day=True,
        recurrence=ev_pb.Recurrence(
            rrules=["FREQ=YEARLY"], rdates=[day(2026, 12, 24)], exdates=[day(2027, 5, 1)]
        ),
        recurrence_type=ev_pb.RECURRENCE_TYPE_MASTER,
    )
    floating_event = single(
        ical_uid="wake@example.com",
        start=floating(2026, 6, 1, 7, 0),
        end=floating(2026, 6, 1, 7, 15),
    )
    utc_event = single(
        ical_uid="utc@example.com", start=at("UTC", 2026, 6, 1, 7), end=at("UTC", 2026, 6, 1, 8)
    )
    other_zone = single(
        ical_uid="flight@example.com",
        start=at("America/New_York", 2026, 7, 1, 18),
        end=at("Europe/Berlin", 2026, 7, 2, 8),  # a flight lands in another zone
    )
    events = [master, exception, all_day, floating_event, utc_event, other_zone]
    assert round_trip(*events) == [
        master,
        all_day,
        floating_event,
        utc_event,
        other_zone,
        exception,
    ]


def test_exceptions_without_their_master_in_the_document():
    # Exported alone (say, a time-range export), an exception keeps its form.
    exception = exception_of(full_master())
    assert round_trip(exception) == [exception]


STATUSES = list(ev_pb.EventStatus.values())
VISIBILITIES = list(ev_pb.Visibility.values())
RESPONSES = list(ev_pb.ResponseStatus.values())
ROLES = list(ev_pb.AttendeeRole.values())


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("visibility", VISIBILITIES)
def test_status_and_visibility(status, visibility):
    event = single(status=status, visibility=visibility)
    assert round_trip(event) == [event]


@pytest.mark.parametrize(
    ("role", "required", "response", "resource"),
    [
        (role, required, response, resource)
        for (role, required), response, resource in zip(
            itertools.product(ROLES, [None, True, False]),
            itertools.cycle(RESPONSES),
            itertools.cycle([False, True, False]),
            strict=False,
        )
    ],
)
def test_attendee_role_required_response_and_resource(role, required, response, resource):
    attendee = ev_pb.Attendee(
        email="someone@example.com", role=role, response_status=response, resource=resource
    )
    if required is not None:
        attendee.required = required
    event = single(attendees=[attendee])
    assert round_trip(event) == [event]


@pytest.mark.parametrize("value", [None, True, False])
def test_optional_booleans(value):
    event = single(transparent=bool(value))
    prop = ev_pb.CustomProperty(key="k", value="v")
    if value is not None:
        event.use_default_reminders = value
        prop.private = value
    event.custom_properties.append(prop)
    assert round_trip(event) == [event]


@pytest.mark.parametrize(
    "reminder",
    [
        ev_pb.Reminder(minutes=15, method=common_pb2.REMINDER_METHOD_POPUP),
        ev_pb.Reminder(minutes=15, method=common_pb2.REMINDER_METHOD_POPUP, popup="Go!"),
        ev_pb.Reminder(minutes=1440, method=common_pb2.REMINDER_METHOD_EMAIL),
        ev_pb.Reminder(
            minutes=60,
            method=common_pb2.REMINDER_METHOD_EMAIL,
            email=ev_pb.ReminderEmail(summary="Subject", to=["x@example.com"]),
        ),
    ],
)
def test_reminders_without_optional_text_stay_without_it(reminder):
    # RFC 5545 requires DESCRIPTION (and SUMMARY, ATTENDEE for EMAIL); the
    # filled-in values are marked and not read back.
    event = single(
        display_name="Title",
        organizer=ev_pb.Person(email="owner@example.com"),
        reminders=[reminder],
    )
    data = to_ics(CALENDAR, [event])
    assert b"X-ALMANAC-GENERATED=TRUE" in data or reminder.popup
    assert round_trip(event) == [event]


@pytest.mark.parametrize("color", ["#4E9075", "#ff0000", "#FFFFFF"])
def test_colour_keeps_the_exact_hex(color):
    event = single(color=color)
    data = to_ics(CALENDAR, [event])
    assert b"\r\nCOLOR:" in data  # RFC 7986 name for other clients
    assert round_trip(event) == [event]


def test_unset_end_is_written_as_the_api_default():
    timed = single(ical_uid="timed@example.com")
    timed.ClearField("end")
    all_day = single(ical_uid="day@example.com", start=day(2026, 5, 1), all_day=True)
    all_day.ClearField("end")
    got = round_trip(timed, all_day)
    assert got[0].end == at("Europe/Berlin", 2026, 5, 4, 10)
    assert got[1].end == day(2026, 5, 2)


def test_empty_time_zone_is_written_as_utc():
    event = single(start=at("UTC", 2026, 5, 4, 9), end=at("UTC", 2026, 5, 4, 10))
    event.start.time_zone = event.end.time_zone = ""
    data = to_ics(CALENDAR, [event])
    assert b"DTSTART:20260504T090000Z" in data
    (got,) = round_trip(event)
    assert got.start.time_zone == "UTC" and got.start.date_time == event.start.date_time


# Text as people type it: any printable character, plus the ones RFC 5545
# escapes, quotes or folds around. Control characters other than LF and TAB
# are dropped on export (documented), CR is normalised, so they are left out.
TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\t,;:\\\"'^ é中😀"),
    max_size=120,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=TEXT,
    description=TEXT,
    location=TEXT,
    categories=st.lists(TEXT, max_size=3),
    key=TEXT.filter(bool),
    value=TEXT,
    name=TEXT,
    comment=TEXT,
)
def test_text_survives_escaping_quoting_and_folding(
    title, description, location, categories, key, value, name, comment
):
    event = single(
        display_name=title,
        description=description,
        location=location,
        categories=categories,
        custom_properties=[ev_pb.CustomProperty(key=key, value=value, private=True)],
        organizer=ev_pb.Person(email="o@example.com", display_name=name),
        attendees=[ev_pb.Attendee(email="a@example.com", display_name=name, comment=comment)],
        reminders=[ev_pb.Reminder(minutes=5, method=common_pb2.REMINDER_METHOD_POPUP, popup=title)],
    )
    # An empty category names none (an empty CATEGORIES is one, in files).
    kept = [c for c in event.categories if c]
    del event.categories[:]
    event.categories.extend(kept)
    assert round_trip(event) == [event]


def test_control_characters_are_dropped_and_cr_normalised():
    event = single(display_name="a\x00b\x07c\r\nd\re", description="tab\tkept")
    (got,) = round_trip(event)
    assert got.display_name == "abc\nd\ne"
    assert got.description == "tab\tkept"


def test_ambiguous_local_time_reads_as_the_first_instant():
    # 02:30 on 2026-10-25 happens twice in Berlin; ICS cannot say which.
    second = at("UTC", 2026, 10, 25, 1, 30)  # 02:30 CET, the second one
    second.time_zone = "Europe/Berlin"
    event = single(start=second, end=at("Europe/Berlin", 2026, 10, 25, 4))
    (got,) = round_trip(event)
    assert got.start.date_time.seconds == second.date_time.seconds - 3600
