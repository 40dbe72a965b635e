"""The Event mapping both ways and the error mapping, without processes."""

from __future__ import annotations

import httpx
import pytest
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from google.type import date_pb2

from connectors import errors
from connectors.google.events import from_google, to_google
from connectors.google.http import mapped
from connectors.remote import SyncTokenExpired
from tests.services.events.support import at, utc

from .schema import DOCUMENT, validate

EVENT = {"$ref": "Event"}


def _rich() -> ev_pb.Event:
    event = ev_pb.Event(
        ical_uid="rich@example.com",
        display_name="Review",
        description="Agenda",
        location="Room 1",
        start=at(utc(2026, 11, 2, 9)),
        end=at(utc(2026, 11, 2, 10)),
        organizer=ev_pb.Person(email="boss@example.com", display_name="Boss"),
        visibility=ev_pb.VISIBILITY_CONFIDENTIAL,
        transparent=True,
        status=ev_pb.EVENT_STATUS_TENTATIVE,
        color="#dc2127",
        use_default_reminders=False,
        recurrence=ev_pb.Recurrence(
            rrules=["FREQ=WEEKLY;COUNT=3"], exdates=[at(utc(2026, 11, 9, 9))]
        ),
    )
    event.start.time_zone = event.end.time_zone = "Europe/Berlin"
    event.attendees.add(
        email="ann@example.com",
        response_status=ev_pb.RESPONSE_STATUS_DECLINED,
        required=False,
        comment="away",
    )
    event.reminders.add(minutes=15, method=common_pb2.REMINDER_METHOD_EMAIL)
    event.custom_properties.add(key="crm", value="42", private=True)
    event.custom_properties.add(key="room", value="blue", private=False)
    event.attachments.add(
        url="https://drive.example.com/f", display_name="Slides", mime_type="application/pdf"
    )
    return event


def test_an_event_goes_to_google_and_back_unchanged() -> None:
    sent = to_google(_rich(), recurring=True)
    assert validate(sent, EVENT, "event") == []
    assert sent["recurrence"] == [
        "RRULE:FREQ=WEEKLY;COUNT=3",
        "EXDATE;TZID=Europe/Berlin:20261109T100000",
    ]
    assert sent["start"] == {"dateTime": "2026-11-02T10:00:00+01:00", "timeZone": "Europe/Berlin"}
    back = from_google({**sent, "id": "abcde12345", "etag": '"1"', "kind": "calendar#event"})
    want = _rich()
    for field in (
        "display_name",
        "description",
        "location",
        "start",
        "end",
        "visibility",
        "transparent",
        "status",
        "color",
        "use_default_reminders",
        "reminders",
        "custom_properties",
        "attachments",
        "recurrence",
    ):
        assert getattr(back, field) == getattr(want, field), field
    assert [(a.email, a.response_status, a.required, a.comment) for a in back.attendees] == [
        ("ann@example.com", ev_pb.RESPONSE_STATUS_DECLINED, False, "away")
    ]
    assert back.organizer.email == "boss@example.com"
    assert dict(back.raw["object"]) == {"id": "abcde12345"}


def test_all_day_and_nearest_colour_and_floating() -> None:
    day = ev_pb.Event(
        display_name="Off",
        color="#dd2222",
        start=common_pb2.EventTime(date=date_pb2.Date(year=2026, month=11, day=20)),
        end=common_pb2.EventTime(date=date_pb2.Date(year=2026, month=11, day=21)),
    )
    sent = to_google(day, recurring=False)
    assert (sent["start"], sent["end"], sent["colorId"]) == (
        {"date": "2026-11-20"},
        {"date": "2026-11-21"},
        "11",
    )
    assert validate(sent, EVENT, "event") == []
    floating = ev_pb.Event(
        start=common_pb2.EventTime(floating={"year": 2026, "month": 1, "day": 1})
    )
    with pytest.raises(errors.InvalidArgument) as bad:
        to_google(floating, recurring=False)
    assert bad.value.violations == [("event.start", "Google Calendar has no floating times")]


def test_the_validator_catches_what_google_would_refuse() -> None:
    assert validate({"summary": 3}, EVENT, "e") == ["e.summary: expected a string, got 3"]
    assert validate({"colour": "1"}, EVENT, "e") == ["e: unknown field 'colour'"]
    assert validate({"start": {"dateTime": "2026-11-02 09:00"}}, EVENT, "e") == [
        "e.start.dateTime: '2026-11-02 09:00' is not an RFC 3339 date-time"
    ]
    assert DOCUMENT["name"] == "calendar" and DOCUMENT["version"] == "v3"


def _reply(status: int, reason: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {
        "error": {
            "errors": [{"domain": "global", "reason": reason, "message": "m"}],
            "code": status,
            "message": "m",
        }
    }
    return httpx.Response(status, json=body, headers=headers or {})


@pytest.mark.parametrize(
    ("status", "reason", "kind"),
    [
        (403, "rateLimitExceeded", errors.RateLimited),
        (403, "userRateLimitExceeded", errors.RateLimited),
        (403, "quotaExceeded", errors.RateLimited),
        (403, "forbidden", errors.PermissionDenied),
        (429, "rateLimitExceeded", errors.RateLimited),
        (401, "authError", errors.Unauthenticated),
        (404, "notFound", errors.NotFound),
        (409, "duplicate", errors.AlreadyExists),
        (410, "fullSyncRequired", SyncTokenExpired),
        (410, "deleted", errors.NotFound),
        (412, "conditionNotMet", errors.EtagMismatch),
        (400, "invalid", errors.InvalidArgument),
        (500, "backendError", errors.Unavailable),
        (503, "backendError", errors.Unavailable),
    ],
)
def test_every_status_maps_to_one_error(status: int, reason: str, kind: type[Exception]) -> None:
    error = mapped(_reply(status, reason))
    assert type(error) is kind
    assert reason in error.message


def test_unparseable_error_bodies_still_map() -> None:
    assert isinstance(mapped(httpx.Response(502, text="<html>")), errors.Unavailable)
    limited = mapped(httpx.Response(429, text="", headers={"Retry-After": "7"}))
    assert isinstance(limited, errors.RateLimited) and limited.retry_after == 7.0
