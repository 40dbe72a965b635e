"""EventService updates of single events: update_mask, custom properties, moves."""

from __future__ import annotations

import datetime as dt

import grpc
from almanac.v1 import event_service_pb2 as ev_pb

from tests.helpers import Almanac, TestAccount, expect_error, on_each_store
from tests.services.events.support import EventsOf, at, date_of, day, instant, local, utc

Code = grpc.StatusCode
Prop = ev_pb.CustomProperty


def _props(event: ev_pb.Event) -> dict[str, tuple[str, bool]]:
    return {p.key: (p.value, p.private) for p in event.custom_properties}


def _seed(events: EventsOf) -> ev_pb.Event:
    start = local("Europe/Berlin", 2026, 5, 4, 10)
    return events.create(
        display_name="Seed",
        description="Original description",
        location="Room 1",
        categories=["a", "b"],
        start=at(start),
        end=at(start + dt.timedelta(minutes=90)),
        custom_properties=[Prop(key="one", value="1"), Prop(key="two", value="2", private=False)],
    )


@on_each_store
def test_update_mask_changes_only_the_named_fields(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    seed = _seed(events)
    patch = ev_pb.Event(name=seed.name, display_name="New", location="Elsewhere")
    updated = events.update(patch, "display_name")
    assert updated.display_name == "New"
    assert updated.location == "Room 1"  # set in the patch, but not in the mask
    # A masked field left empty in the patch is cleared.
    cleared = events.update(ev_pb.Event(name=seed.name), "description", "categories")
    assert cleared.description == "" and list(cleared.categories) == []
    assert cleared.display_name == "New" and cleared.location == "Room 1"
    assert events.get(seed.name) == cleared


def test_no_mask_means_every_field_set_in_the_patch(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    seed = _seed(events)
    updated = events.update(ev_pb.Event(name=seed.name, location="Hall", transparent=True))
    assert (updated.location, updated.transparent) == ("Hall", True)
    assert updated.display_name == "Seed" and updated.description == "Original description"
    assert updated.start == seed.start and updated.end == seed.end
    assert list(updated.categories) == ["a", "b"]
    assert _props(updated) == _props(seed)


def test_star_mask_replaces_every_mutable_field(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    seed = _seed(events)
    replacement = ev_pb.Event(name=seed.name, display_name="Only this", start=day(2026, 5, 5))
    updated = events.update(replacement, "*")
    assert updated.display_name == "Only this"
    assert updated.description == "" and updated.location == "" and not updated.categories
    # custom_properties merge by key even under `*`: an empty list deletes nothing.
    assert updated.custom_properties == seed.custom_properties
    assert updated.all_day and updated.start == day(2026, 5, 5)
    assert date_of(updated.end) == dt.date(2026, 5, 6)
    # Identity and history are kept.
    assert (updated.name, updated.ical_uid, updated.create_time) == (
        seed.name, seed.ical_uid, seed.create_time,
    )  # fmt: skip


def test_bad_update_masks(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    seed = _seed(events)
    patch = ev_pb.Event(name=seed.name, display_name="x")
    for paths in (("no_such_field",), ("attendees.email",), ("ical_uid",)):
        err = expect_error(Code.INVALID_ARGUMENT, lambda p=paths: events.update(patch, *p))
        assert err.fields == {"update_mask"}, paths
    # Output-only paths are ignored.
    updated = events.update(patch, "display_name", "create_time", "recurrence_type")
    assert updated.display_name == "x" and updated.create_time == seed.create_time
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.update(ev_pb.Event(name=seed.name, display_name="y"), scope=99),
    )
    assert err.fields == {"scope"}
    assert events.get(seed.name).display_name == "x"


def test_update_that_breaks_the_times_names_event_end(
    almanac: Almanac, account: TestAccount
) -> None:
    events = EventsOf(account)
    seed = _seed(events)
    early = at(instant(seed.start) - dt.timedelta(hours=1), "Europe/Berlin")
    err = expect_error(
        Code.INVALID_ARGUMENT, lambda: events.update(ev_pb.Event(name=seed.name, end=early), "end")
    )
    assert err.fields == {"event.end"}
    assert events.get(seed.name).end == seed.end


@on_each_store
def test_custom_properties_merge_by_key(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    seed = _seed(events)
    assert _props(seed) == {"one": ("1", True), "two": ("2", False)}

    added = events.update(
        ev_pb.Event(name=seed.name, custom_properties=[Prop(key="three", value="3")]),
        "custom_properties",
    )
    assert _props(added) == {"one": ("1", True), "two": ("2", False), "three": ("3", True)}

    # Without a mask too; an existing key keeps its `private` unless given.
    changed = events.update(
        ev_pb.Event(name=seed.name, custom_properties=[Prop(key="two", value="22")])
    )
    assert _props(changed) == {"one": ("1", True), "two": ("22", False), "three": ("3", True)}

    # A key without value deletes it; other keys stay.
    removed = events.update(
        ev_pb.Event(
            name=seed.name, custom_properties=[Prop(key="one"), Prop(key="four", value="4")]
        ),
        "custom_properties",
    )
    assert _props(removed) == {"two": ("22", False), "three": ("3", True), "four": ("4", True)}
    assert _props(events.get(seed.name)) == _props(removed)
    # Deleting a key that is not there is no error.
    again = events.update(
        ev_pb.Event(name=seed.name, custom_properties=[Prop(key="nope")]), "custom_properties"
    )
    assert _props(again) == _props(removed)


def test_custom_property_limit_counts_the_merged_result(
    almanac: Almanac, account: TestAccount
) -> None:
    events = EventsOf(account)
    seed = events.create(
        start=day(2026, 5, 1),
        custom_properties=[Prop(key=f"k{i}", value="v") for i in range(100)],
    )
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.update(
            ev_pb.Event(name=seed.name, custom_properties=[Prop(key="extra", value="v")]),
            "custom_properties",
        ),
    )
    assert err.fields == {"event.custom_properties"}
    assert len(events.get(seed.name).custom_properties) == 100


@on_each_store
def test_moving_start_keeps_the_duration(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    seed = _seed(events)  # 90 minutes
    new_start = local("Europe/Berlin", 2026, 5, 6, 15)
    moved = events.update(ev_pb.Event(name=seed.name, start=at(new_start)), "start")
    assert instant(moved.start) == new_start.astimezone(dt.UTC)
    assert instant(moved.end) - instant(moved.start) == dt.timedelta(minutes=90)
    assert moved.end.time_zone == "Europe/Berlin"
    # Without a mask as well.
    later = new_start + dt.timedelta(days=1)
    moved = events.update(ev_pb.Event(name=seed.name, start=at(later)))
    assert instant(moved.end) - instant(moved.start) == dt.timedelta(minutes=90)
    # Start and end given together: the given end wins.
    both = events.update(
        ev_pb.Event(name=seed.name, start=at(later), end=at(later + dt.timedelta(minutes=5))),
        "start",
        "end",
    )
    assert instant(both.end) - instant(both.start) == dt.timedelta(minutes=5)

    trip = events.create(start=day(2026, 7, 1), end=day(2026, 7, 4))
    moved_trip = events.update(ev_pb.Event(name=trip.name, start=day(2026, 8, 10)), "start")
    assert (date_of(moved_trip.start), date_of(moved_trip.end)) == (
        dt.date(2026, 8, 10), dt.date(2026, 8, 13),
    )  # fmt: skip


def test_moved_event_is_listed_at_its_new_time(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    seed = _seed(events)
    events.update(ev_pb.Event(name=seed.name, start=at(utc(2026, 6, 20, 8), "UTC")), "start")
    assert events.window(utc(2026, 5, 1), utc(2026, 6, 1)) == []
    (found,) = events.window(utc(2026, 6, 1), utc(2026, 7, 1))
    assert found.name == seed.name and instant(found.start) == utc(2026, 6, 20, 8)


def test_timed_event_moved_to_a_date_gets_the_all_day_default_end(
    almanac: Almanac, account: TestAccount
) -> None:
    """A 90-minute event moved to a date: its length cannot carry over, so the
    all-day default applies (start + 1 day), not a zero-length all-day event."""
    events = EventsOf(account)
    seed = _seed(events)
    all_day = events.update(ev_pb.Event(name=seed.name, start=day(2026, 5, 4)), "start")
    assert all_day.all_day
    assert all_day.end == day(2026, 5, 5)


def test_all_day_event_moved_to_a_time_gets_the_timed_default_end(
    almanac: Almanac, account: TestAccount
) -> None:
    events = EventsOf(account)
    seed = events.create(start=day(2026, 5, 4))
    timed = events.update(
        ev_pb.Event(name=seed.name, start=at(utc(2026, 5, 4, 12), "UTC")), "start"
    )
    assert not timed.all_day
    assert instant(timed.end) == utc(2026, 5, 4, 13)
