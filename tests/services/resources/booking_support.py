"""Builders for the booking tests: rooms, events that invite them, answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from almanac.v1 import event_service_pb2 as ev_pb
from almanac.v1 import resource_service_pb2 as rs_pb

from tests.helpers import TestAccount, list_all
from tests.services.contacts.support import Directory
from tests.services.events.support import at, ts

__all__ = ["answer", "base_time", "book", "make_room", "room_events"]


def base_time(days: int = 10) -> dt.datetime:
    """Midnight UTC ``days`` from today: in the future, so recurring checks see it."""
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + dt.timedelta(days=days)


def make_room(
    directory: Directory, account: TestAccount, name: str = "Room", **fields: Any
) -> rs_pb.Resource:
    values: dict[str, Any] = {
        "display_name": name,
        "email": f"{name.lower()}@rooms.example",
        "category": rs_pb.Resource.CATEGORY_ROOM,
        "capacity": 6,
    }
    values.update(fields)
    return directory.resources().CreateResource(  # type: ignore[no-any-return]
        rs_pb.CreateResourceRequest(parent=account.name, resource=rs_pb.Resource(**values))
    )


def book(
    account: TestAccount, room: rs_pb.Resource, start: dt.datetime, minutes: int = 60,
    calendar: str = "", **fields: Any,
) -> ev_pb.Event:  # fmt: skip
    """Create an event on ``calendar`` (default: primary) inviting ``room``."""
    event = ev_pb.Event(
        display_name=fields.pop("display_name", "Meeting"),
        start=at(start, "UTC"),
        end=at(start + dt.timedelta(minutes=minutes), "UTC"),
        attendees=[ev_pb.Attendee(email="ann@example.com"), ev_pb.Attendee(email=room.email)],
        organizer=fields.pop("organizer", ev_pb.Person(email="ann@example.com")),
        **fields,
    )
    return account.almanac.events().CreateEvent(  # type: ignore[no-any-return]
        ev_pb.CreateEventRequest(parent=calendar or account.primary, event=event)
    )


def answer(event: ev_pb.Event, room: rs_pb.Resource) -> ev_pb.Attendee:
    """The room's attendee entry of ``event``."""
    found = [a for a in event.attendees if a.email == room.email]
    assert len(found) == 1, event.attendees
    return found[0]


def room_events(
    account: TestAccount, room: rs_pb.Resource, start: dt.datetime, days: int = 40
) -> list[ev_pb.Event]:
    """The instances on the room's calendar from ``start`` for ``days``."""
    return list_all(
        account.almanac.events().ListEvents,
        ev_pb.ListEventsRequest(
            parent=room.calendar, start_time=ts(start),
            end_time=ts(start + dt.timedelta(days=days)),
        ),
        "events",
    )  # fmt: skip
