"""Booking rooms by inviting them: accept, decline, races, series, moves, cancels."""

from __future__ import annotations

import datetime as dt

from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from almanac.v1 import resource_service_pb2 as rs_pb
from google.protobuf import duration_pb2, field_mask_pb2

from tests.helpers import Almanac, TestAccount, on_each_store, race
from tests.services.contacts.support import (
    Directory,
    directory_fixture,
    directory_processes_fixture,
)
from tests.services.events.support import at
from tests.services.resources.booking_support import (
    answer,
    base_time,
    book,
    make_room,
    room_events,
)

__all__ = ["directory_fixture", "directory_processes_fixture"]

ACCEPTED = ev_pb.RESPONSE_STATUS_ACCEPTED
DECLINED = ev_pb.RESPONSE_STATUS_DECLINED
H = dt.timedelta(hours=1)


@on_each_store
def test_free_room_accepts_and_a_clash_is_declined(
    almanac: Almanac, directory: Directory, account: TestAccount
) -> None:
    room = make_room(directory, account)
    t0 = base_time() + 9 * H
    first = book(account, room, t0)
    assert answer(first, room).resource and answer(first, room).response_status == ACCEPTED
    human = next(a for a in first.attendees if a.email == "ann@example.com")
    assert not human.resource and human.response_status != ACCEPTED
    on_room = room_events(account, room, t0 - H)
    assert [(e.display_name, e.ical_uid) for e in on_room] == [("Meeting", first.ical_uid)]
    clash = book(account, room, t0 + dt.timedelta(minutes=30))
    assert answer(clash, room).response_status == DECLINED
    assert "already booked" in answer(clash, room).comment
    stored = almanac.events().GetEvent(ev_pb.GetEventRequest(name=clash.name))
    assert answer(stored, room).response_status == DECLINED, "the organizer's event shows it"
    assert len(room_events(account, room, t0 - H)) == 1
    # Back to back is no clash.
    after = book(account, room, t0 + H)
    assert answer(after, room).response_status == ACCEPTED


@on_each_store
def test_concurrent_bookings_of_one_slot_accept_exactly_one(
    almanac: Almanac, directory: Directory, account: TestAccount
) -> None:
    room = make_room(directory, account)
    t0 = base_time() + 14 * H
    names = race(6, lambda: book(account, room, t0))
    assert all(n.startswith(account.primary) for n in names), names
    answers = [
        answer(almanac.events().GetEvent(ev_pb.GetEventRequest(name=n)), room).response_status
        for n in names
    ]
    assert sorted(answers) == [ACCEPTED] + [DECLINED] * 5, answers
    assert len(room_events(account, room, t0 - H)) == 1


@on_each_store
def test_moving_rechecks_and_cancelling_frees(
    almanac: Almanac, directory: Directory, account: TestAccount
) -> None:
    room = make_room(directory, account)
    t0 = base_time() + 10 * H
    kept = book(account, room, t0)
    loser = book(account, room, t0)
    assert answer(loser, room).response_status == DECLINED

    def move(event: ev_pb.Event, start: dt.datetime) -> ev_pb.Event:
        return almanac.events().UpdateEvent(  # type: ignore[no-any-return]
            ev_pb.UpdateEventRequest(
                event=ev_pb.Event(name=event.name, start=at(start, "UTC")),
                update_mask=field_mask_pb2.FieldMask(paths=["start"]),
            )
        )

    moved = move(loser, t0 + 2 * H)
    assert answer(moved, room).response_status == ACCEPTED and not answer(moved, room).comment
    starts = sorted(e.start.date_time.seconds for e in room_events(account, room, t0 - H))
    assert starts == [int(t0.timestamp()), int((t0 + 2 * H).timestamp())]
    # Moving the first onto the second's slot: declined, and its old slot is freed.
    clash = move(kept, t0 + 2 * H)
    assert answer(clash, room).response_status == DECLINED
    assert [e.ical_uid for e in room_events(account, room, t0 - H)] == [moved.ical_uid]
    # Dropping the room from the attendees frees it too.
    almanac.events().UpdateEvent(
        ev_pb.UpdateEventRequest(
            event=ev_pb.Event(name=moved.name, attendees=[ev_pb.Attendee(email="a@b.example")]),
            update_mask=field_mask_pb2.FieldMask(paths=["attendees"]),
        )
    )
    assert room_events(account, room, t0 - H) == []
    again = book(account, room, t0 + 2 * H)
    assert answer(again, room).response_status == ACCEPTED
    almanac.events().DeleteEvent(ev_pb.DeleteEventRequest(name=again.name))
    assert room_events(account, room, t0 - H) == []
    assert answer(book(account, room, t0 + 2 * H), room).response_status == ACCEPTED


@on_each_store
def test_recurring_series_declines_only_clashing_occurrences(
    almanac: Almanac, directory: Directory, account: TestAccount
) -> None:
    room = make_room(directory, account)
    t0 = base_time() + 9 * H
    for day in (2, 5):  # occupied on the 3rd and 6th occurrence
        book(account, room, t0 + dt.timedelta(days=day), display_name=f"Busy {day}")
    daily = ev_pb.Recurrence(rrules=["RRULE:FREQ=DAILY;COUNT=10"])
    series = book(account, room, t0, recurrence=daily, display_name="Standup")
    mark = answer(series, room)
    assert mark.response_status == ACCEPTED
    assert "2 clashing occurrences" in mark.comment, mark.comment
    on_room = room_events(account, room, t0 - H, days=12)
    standups = [e for e in on_room if e.display_name == "Standup"]
    busy = [e for e in on_room if e.display_name.startswith("Busy")]
    assert len(standups) == 8 and len(busy) == 2
    taken = {e.start.date_time.seconds for e in busy}
    assert not taken & {e.start.date_time.seconds for e in standups}
    # More than a third clashing: the whole series is declined.
    weekly = ev_pb.Recurrence(rrules=["RRULE:FREQ=DAILY;INTERVAL=3;COUNT=4"])
    other = book(account, room, t0 + dt.timedelta(days=2), recurrence=weekly)
    assert answer(other, room).response_status == DECLINED
    assert "occurrences clash" in answer(other, room).comment
    # Deleting the series frees every occurrence.
    almanac.events().DeleteEvent(ev_pb.DeleteEventRequest(name=series.name))
    assert [e.display_name for e in room_events(account, room, t0 - H, days=12)] == [
        "Busy 2",
        "Busy 5",
    ]


@on_each_store
def test_booking_policy_limits(
    almanac: Almanac, directory: Directory, account: TestAccount
) -> None:
    policy = rs_pb.BookingPolicy(
        max_duration=duration_pb2.Duration(seconds=3600),
        max_advance=duration_pb2.Duration(seconds=30 * 86400),
        allowed_bookers=["@example.com"],
    )
    room = make_room(directory, account, "Boardroom", booking_policy=policy)
    t0 = base_time() + 9 * H
    assert answer(book(account, room, t0), room).response_status == ACCEPTED
    long = answer(book(account, room, t0 + 3 * H, minutes=120), room)
    assert long.response_status == DECLINED and "longest booking" in long.comment
    far = answer(book(account, room, base_time(40)), room)
    assert far.response_status == DECLINED and "ahead" in far.comment
    stranger = book(account, room, t0 + 5 * H, organizer=ev_pb.Person(email="eve@evil.example"))
    assert answer(stranger, room).response_status == DECLINED
    assert "may not book" in answer(stranger, room).comment
    assert len(room_events(account, room, t0 - H)) == 1


@on_each_store
def test_booking_activity(almanac: Almanac, directory: Directory, account: TestAccount) -> None:
    room = make_room(directory, account)
    event = book(account, room, base_time() + 9 * H)
    almanac.events().UpdateEvent(
        ev_pb.UpdateEventRequest(
            event=ev_pb.Event(name=event.name, start=at(base_time() + 11 * H, "UTC")),
            update_mask=field_mask_pb2.FieldMask(paths=["start"]),
        )
    )
    almanac.events().DeleteEvent(ev_pb.DeleteEventRequest(name=event.name))
    on_room = [
        a
        for a in directory.activities(account.name)
        if a.calendar == room.calendar and a.resource_type == common_pb2.RESOURCE_TYPE_EVENT
    ]
    assert [a.type for a in on_room] == [
        act_pb.ACTIVITY_TYPE_ADDED, act_pb.ACTIVITY_TYPE_UPDATED, act_pb.ACTIVITY_TYPE_DELETED,
    ]  # fmt: skip
    assert on_room[0].event_snapshot.ical_uid == event.ical_uid
    assert set(on_room[1].changed_fields.paths) == {"start", "end"}
    organizer = [a for a in directory.activities(account.name) if a.resource == event.name]
    assert answer(organizer[0].event_snapshot, room).response_status == ACCEPTED


def test_unknown_emails_are_plain_attendees(
    almanac: Almanac, directory: Directory, account: TestAccount
) -> None:
    other = TestAccount(almanac, almanac.create_local_account())
    room = make_room(directory, other, "Elsewhere")
    event = book(account, room, base_time() + 9 * H)
    mark = answer(event, room)
    assert not mark.resource and mark.response_status != ACCEPTED, "resources are per account"
    assert room_events(other, room, base_time()) == []
