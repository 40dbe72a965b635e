"""EventService changes to series: exceptions, RSVP, cancelled instances, splits, scopes."""

from __future__ import annotations

import datetime as dt

import grpc
from almanac.v1 import event_service_pb2 as ev_pb

from tests.helpers import Almanac, TestAccount, expect_error, on_each_store
from tests.services.events.support import (
    EventsOf,
    at,
    day,
    instant,
    local,
    names,
    starts,
    suffix,
    utc,
)

Code = grpc.StatusCode
Scope = ev_pb.RecurrenceScope
Status = ev_pb.ResponseStatus
WEEK = dt.timedelta(days=7)
FIRST = local("America/New_York", 2026, 2, 2, 9)  # Monday 14:00 UTC
ALL = (utc(2026, 1, 1), utc(2026, 6, 1))


def _series(events: EventsOf, rule: str = "FREQ=WEEKLY;COUNT=8") -> ev_pb.Event:
    return events.create(
        display_name="Sync",
        start=at(FIRST),
        end=at(FIRST + dt.timedelta(minutes=30)),
        attendees=[
            ev_pb.Attendee(email="ann@example.com"),
            ev_pb.Attendee(email="bob@example.com"),
        ],
        recurrence=ev_pb.Recurrence(rrules=[rule]),
    )


def _nth(series: ev_pb.Event, n: int) -> str:
    """Name of the n-th (1-based) instance of the weekly series."""
    return f"{series.name}_{suffix(FIRST + (n - 1) * WEEK)}"


def _status(event: ev_pb.Event, email: str) -> int:
    return next(a.response_status for a in event.attendees if a.email == email)


@on_each_store
def test_update_one_instance_makes_an_exception(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = _series(events)
    third = _nth(series, 3)
    moved_to = FIRST + 2 * WEEK + dt.timedelta(days=2, hours=3)  # Wednesday 12:00
    updated = events.update(
        ev_pb.Event(name=third, display_name="Sync (moved)", start=at(moved_to)),
        "display_name",
        "start",
    )
    assert updated.name == third
    assert updated.recurrence_type == ev_pb.RECURRENCE_TYPE_INSTANCE
    assert updated.recurring_master == series.name
    assert updated.original_start == at(FIRST + 2 * WEEK)
    assert updated.instance_index == 3
    assert instant(updated.start) == moved_to.astimezone(dt.UTC)
    assert instant(updated.end) - instant(updated.start) == dt.timedelta(minutes=30)
    assert events.get(third) == updated

    listed = events.window(*ALL)
    assert len(listed) == 8
    assert names(listed).count(third) == 1
    assert starts(listed) == sorted(starts(listed))
    assert (FIRST + 2 * WEEK).astimezone(dt.UTC) not in starts(listed)
    (exception,) = [e for e in listed if e.name == third]
    assert exception == updated
    # Its original slot's window no longer has it; its new slot's does.
    slot = (FIRST + 2 * WEEK).astimezone(dt.UTC)
    assert events.window(slot, slot + dt.timedelta(minutes=30)) == []
    assert names(events.window(moved_to, moved_to + dt.timedelta(minutes=1))) == [third]
    # The master and the other instances are unchanged.
    assert events.get(series.name).display_name == "Sync"
    assert {e.display_name for e in listed if e.name != third} == {"Sync"}
    assert [e.name for e in events.instances(series.name)] == names(listed)
    # Changed again, by its name: still the one exception.
    again = events.update(ev_pb.Event(name=third, location="Room 9"), "location")
    assert (again.location, again.display_name) == ("Room 9", "Sync (moved)")
    assert len(events.window(*ALL)) == 8


@on_each_store
def test_rsvp_on_one_instance_and_on_the_series(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = _series(events)
    second = _nth(series, 2)
    attendees = list(events.get(second).attendees)
    attendees[0].response_status = Status.RESPONSE_STATUS_DECLINED
    answered = events.update(ev_pb.Event(name=second, attendees=attendees), "attendees")
    assert _status(answered, "ann@example.com") == Status.RESPONSE_STATUS_DECLINED
    listed = {e.name: e for e in events.window(*ALL)}
    assert _status(listed[second], "ann@example.com") == Status.RESPONSE_STATUS_DECLINED
    others = [e for n, e in listed.items() if n != second]
    assert {_status(e, "ann@example.com") for e in others} == {Status.RESPONSE_STATUS_PENDING}

    # The whole series: every instance but the exception follows.
    master_attendees = list(events.get(series.name).attendees)
    for attendee in master_attendees:
        attendee.response_status = Status.RESPONSE_STATUS_ACCEPTED
    events.update(ev_pb.Event(name=series.name, attendees=master_attendees), "attendees")
    listed = {e.name: e for e in events.window(*ALL)}
    assert len(listed) == 8
    for name, event in listed.items():
        expected = (
            Status.RESPONSE_STATUS_DECLINED if name == second else Status.RESPONSE_STATUS_ACCEPTED
        )
        assert _status(event, "ann@example.com") == expected, name
    assert _status(listed[_nth(series, 5)], "bob@example.com") == Status.RESPONSE_STATUS_ACCEPTED


@on_each_store
def test_delete_one_instance(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = _series(events)
    fourth = _nth(series, 4)
    events.delete(fourth)
    listed = events.window(*ALL)
    assert fourth not in names(listed) and len(listed) == 7
    master = events.get(series.name)
    assert list(master.recurrence.exdates) == [at(FIRST + 3 * WEEK)]
    expect_error(Code.NOT_FOUND, lambda: events.get(fourth))
    expect_error(Code.NOT_FOUND, lambda: events.get(series.name, instance_index=4))
    assert events.get(series.name, instance_index=5).name == _nth(series, 5)

    shown = events.window(*ALL, show_deleted=True)
    assert len(shown) == 8
    (cancelled,) = [e for e in shown if e.name == fourth]
    assert cancelled.status == ev_pb.EVENT_STATUS_CANCELLED
    assert cancelled.HasField("delete_time")
    assert cancelled.original_start == at(FIRST + 3 * WEEK)
    assert all(not e.HasField("delete_time") for e in shown if e.name != fourth)
    expect_error(Code.NOT_FOUND, lambda: events.delete(fourth))


def test_delete_a_modified_instance(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = _series(events)
    second = _nth(series, 2)
    events.update(ev_pb.Event(name=second, display_name="Special"), "display_name")
    events.delete(second)
    assert second not in names(events.window(*ALL))
    (shown,) = [e for e in events.window(*ALL, show_deleted=True) if e.name == second]
    assert shown.display_name == "Special"
    assert shown.status == ev_pb.EVENT_STATUS_CANCELLED and shown.HasField("delete_time")
    assert list(events.get(series.name).recurrence.exdates) == [at(FIRST + WEEK)]


@on_each_store
def test_update_this_and_following_splits_the_series(
    almanac: Almanac, account: TestAccount
) -> None:
    events = EventsOf(account)
    series = _series(events)
    fifth = _nth(series, 5)
    later = FIRST + 4 * WEEK + dt.timedelta(hours=1)  # 10:00 from then on
    new = events.update(
        ev_pb.Event(name=fifth, display_name="Sync v2", start=at(later)),
        "display_name",
        "start",
        scope=Scope.RECURRENCE_SCOPE_THIS_AND_FOLLOWING,
    )
    assert new.name == f"{series.name}_R{suffix(FIRST + 4 * WEEK)}"
    assert new.recurrence_type == ev_pb.RECURRENCE_TYPE_MASTER
    assert new.display_name == "Sync v2"
    assert instant(new.start) == later.astimezone(dt.UTC)
    assert new.ical_uid and new.ical_uid != series.ical_uid
    assert events.get(new.name) == new

    old = events.get(series.name)
    assert old.display_name == "Sync"
    assert len(events.instances(series.name)) == 4
    assert [instant(e.start) for e in events.instances(new.name)] == [
        (later + i * WEEK).astimezone(dt.UTC) for i in range(4)
    ]
    listed = events.window(*ALL)
    assert [e.display_name for e in listed] == ["Sync"] * 4 + ["Sync v2"] * 4
    assert [e.recurring_master for e in listed] == [series.name] * 4 + [new.name] * 4
    assert starts(listed) == [
        t.astimezone(dt.UTC)
        for t in [FIRST + i * WEEK for i in range(4)] + [later + i * WEEK for i in range(4)]
    ]
    expect_error(Code.NOT_FOUND, lambda: events.get(fifth))
    masters = events.window(*ALL, expansion=ev_pb.EXPANSION_MASTERS)
    assert names(masters) == [series.name, new.name]


def test_this_and_following_drops_later_exceptions(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = _series(events, "FREQ=WEEKLY")
    events.update(ev_pb.Event(name=_nth(series, 2), location="early"), "location")
    events.update(ev_pb.Event(name=_nth(series, 6), location="late"), "location")
    new = events.update(
        ev_pb.Event(name=_nth(series, 4), display_name="Renamed"),
        "display_name",
        scope=Scope.RECURRENCE_SCOPE_THIS_AND_FOLLOWING,
    )
    listed = events.window(*ALL)
    kept = [e for e in listed if e.location]
    assert [(e.name, e.location) for e in kept] == [(_nth(series, 2), "early")]
    assert {e.display_name for e in listed if e.recurring_master == new.name} == {"Renamed"}
    assert len(events.instances(series.name)) == 3


def test_this_and_following_at_the_first_instance_changes_the_series(
    almanac: Almanac, account: TestAccount
) -> None:
    events = EventsOf(account)
    series = _series(events)
    updated = events.update(
        ev_pb.Event(name=_nth(series, 1), display_name="Everything"),
        "display_name",
        scope=Scope.RECURRENCE_SCOPE_THIS_AND_FOLLOWING,
    )
    assert updated.name == series.name
    assert {e.display_name for e in events.window(*ALL)} == {"Everything"}
    assert names(events.window(*ALL, expansion=ev_pb.EXPANSION_MASTERS)) == [series.name]


@on_each_store
def test_delete_this_and_following(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = _series(events, "FREQ=WEEKLY")
    events.delete(_nth(series, 3), scope=Scope.RECURRENCE_SCOPE_THIS_AND_FOLLOWING)
    assert names(events.window(*ALL)) == [_nth(series, 1), _nth(series, 2)]
    assert names(events.window(utc(2026, 6, 1), utc(2030, 1, 1))) == []
    expect_error(Code.OUT_OF_RANGE, lambda: events.get(series.name, instance_index=3))
    assert len(events.instances(series.name)) == 2
    # At the first instance it deletes the whole series.
    other = _series(events)
    events.delete(_nth(other, 1), scope=Scope.RECURRENCE_SCOPE_THIS_AND_FOLLOWING)
    expect_error(Code.NOT_FOUND, lambda: events.get(other.name))
    assert not [e for e in events.window(*ALL) if e.recurring_master == other.name]


def test_scope_all_through_an_instance_name(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = _series(events)
    events.update(ev_pb.Event(name=_nth(series, 2), location="kept"), "location")
    updated = events.update(
        ev_pb.Event(name=_nth(series, 6), display_name="Renamed"),
        "display_name",
        scope=Scope.RECURRENCE_SCOPE_ALL,
    )
    assert updated.name == series.name and updated.display_name == "Renamed"
    listed = events.window(*ALL)
    assert len(listed) == 8
    assert {e.display_name for e in listed if e.name != _nth(series, 2)} == {"Renamed"}
    # Deleting with ALL through an instance deletes the whole series.
    events.delete(_nth(series, 7), scope=Scope.RECURRENCE_SCOPE_ALL)
    assert events.window(*ALL) == []
    expect_error(Code.NOT_FOUND, lambda: events.get(series.name))
    expect_error(Code.NOT_FOUND, lambda: events.get(_nth(series, 2)))


def test_this_instance_scope_on_a_series_name(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = _series(events)
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.update(
            ev_pb.Event(name=series.name, display_name="x"),
            "display_name",
            scope=Scope.RECURRENCE_SCOPE_THIS_INSTANCE,
        ),
    )
    assert err.fields == {"scope"}
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.delete(series.name, scope=Scope.RECURRENCE_SCOPE_THIS_INSTANCE),
    )
    assert err.fields == {"scope"}
    assert events.get(series.name).display_name == "Sync"
    assert len(events.window(*ALL)) == 8


def test_instance_cannot_have_its_own_recurrence(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = _series(events)
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.update(
            ev_pb.Event(
                name=_nth(series, 2), recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=2"])
            ),
            "recurrence",
        ),
    )
    assert err.fields == {"event.recurrence"}
    assert len(events.window(*ALL)) == 8


def test_series_change_keeps_exceptions_that_still_occur(
    almanac: Almanac, account: TestAccount
) -> None:
    events = EventsOf(account)
    series = _series(events)
    events.update(ev_pb.Event(name=_nth(series, 2), location="kept"), "location")
    events.update(ev_pb.Event(name=_nth(series, 7), location="dropped"), "location")
    events.update(
        ev_pb.Event(name=series.name, recurrence=ev_pb.Recurrence(rrules=["FREQ=WEEKLY;COUNT=5"])),
        "recurrence",
    )
    listed = events.window(*ALL)
    assert len(listed) == 5
    assert [(e.name, e.location) for e in listed if e.location] == [(_nth(series, 2), "kept")]
    expect_error(Code.NOT_FOUND, lambda: events.get(_nth(series, 7)))


@on_each_store
def test_delete_whole_series_leaves_a_tombstone(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = _series(events)
    events.update(ev_pb.Event(name=_nth(series, 2), location="x"), "location")
    events.delete(series.name)
    assert events.window(*ALL) == []
    expect_error(Code.NOT_FOUND, lambda: events.get(_nth(series, 3)))
    expect_error(Code.NOT_FOUND, lambda: events.get(_nth(series, 2)))
    shown = events.window(*ALL, expansion=ev_pb.EXPANSION_MASTERS, show_deleted=True)
    assert series.name in names(shown)
    (master,) = [e for e in shown if e.name == series.name]
    assert master.HasField("delete_time")


@on_each_store
def test_far_future_instances_can_be_changed_and_cancelled(
    almanac: Almanac, account: TestAccount
) -> None:
    """Instances past the materialized horizon behave like near ones."""
    events = EventsOf(account)
    _series(events, "FREQ=WEEKLY")
    far = (utc(2031, 6, 1), utc(2031, 7, 1))
    before = events.window(*far)
    assert len(before) == 5
    moved, cancelled = before[1].name, before[3].name
    new_start = instant(before[1].start) + dt.timedelta(hours=5)
    events.update(ev_pb.Event(name=moved, start=at(new_start, "UTC")), "start")
    events.delete(cancelled)
    after = events.window(*far)
    assert names(after) == [before[0].name, moved, before[2].name, before[4].name]
    assert instant(after[1].start) == new_start
    shown = events.window(*far, show_deleted=True)
    assert names(shown) == [*names(after[:3]), cancelled, before[4].name]
    assert shown[3].status == ev_pb.EVENT_STATUS_CANCELLED
    expect_error(Code.NOT_FOUND, lambda: events.get(cancelled))
    assert events.get(moved) == after[1]


def test_this_and_following_on_an_endless_series(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = _series(events, "FREQ=WEEKLY")
    new = events.update(
        ev_pb.Event(name=_nth(series, 3), display_name="Later"),
        "display_name",
        scope=Scope.RECURRENCE_SCOPE_THIS_AND_FOLLOWING,
    )
    old = events.get(series.name)
    assert "UNTIL=" in old.recurrence.rrules[0] or "COUNT=2" in old.recurrence.rrules[0]
    assert len(events.instances(series.name)) == 2
    far = events.window(utc(2031, 6, 1), utc(2031, 7, 1))
    assert len(far) == 5
    assert {e.recurring_master for e in far} == {new.name}
    assert {e.display_name for e in far} == {"Later"}
    assert names(events.window(*ALL))[:2] == [_nth(series, 1), _nth(series, 2)]


def test_this_and_following_on_an_all_day_series(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = events.create(
        event_id="rota",
        start=day(2026, 3, 2),
        recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=6"]),
    )
    new = events.update(
        ev_pb.Event(name=f"{series.name}_20260305", location="Home"),
        "location",
        scope=Scope.RECURRENCE_SCOPE_THIS_AND_FOLLOWING,
    )
    assert new.name == f"{series.name}_R20260305"
    assert new.start == day(2026, 3, 5)
    listed = events.window(utc(2026, 3, 1), utc(2026, 4, 1))
    assert [e.name.rsplit("/", 1)[1] for e in listed] == [
        "rota_20260302", "rota_20260303", "rota_20260304",
        "rota_R20260305_20260305", "rota_R20260305_20260306", "rota_R20260305_20260307",
    ]  # fmt: skip
    assert [e.location for e in listed] == [""] * 3 + ["Home"] * 3


def test_moving_a_series_drops_exceptions_it_no_longer_has(
    almanac: Almanac, account: TestAccount
) -> None:
    events = EventsOf(account)
    series = _series(events)
    events.update(ev_pb.Event(name=_nth(series, 2), location="orphan"), "location")
    later = FIRST + dt.timedelta(hours=1)
    moved = events.update(ev_pb.Event(name=series.name, start=at(later)), "start")
    assert instant(moved.end) - instant(moved.start) == dt.timedelta(minutes=30)
    listed = events.window(*ALL)
    assert len(listed) == 8
    assert starts(listed) == [(later + i * WEEK).astimezone(dt.UTC) for i in range(8)]
    assert not [e for e in listed if e.location]
    expect_error(Code.NOT_FOUND, lambda: events.get(_nth(series, 2)))


def test_instance_etags(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = _series(events)
    third = events.get(_nth(series, 3))
    changed = events.update(ev_pb.Event(name=third.name, location="A", etag=third.etag), "location")
    expect_error(
        Code.ABORTED,
        lambda: events.update(
            ev_pb.Event(name=third.name, location="B", etag=third.etag), "location"
        ),
    )
    expect_error(Code.ABORTED, lambda: events.delete(third.name, etag=third.etag))
    events.delete(third.name, etag=changed.etag)
    assert third.name not in names(events.window(*ALL))


def test_instance_updated_to_cancelled_is_a_cancelled_instance(
    almanac: Almanac, account: TestAccount
) -> None:
    """Status CANCELLED on one instance cancels it: ListEventInstances leaves it
    out unless show_deleted, and (connectors/local/events) the master gets an
    EXDATE so every reader of the series sees it gone."""
    events = EventsOf(account)
    series = _series(events)
    second = _nth(series, 2)
    events.update(ev_pb.Event(name=second, status=ev_pb.EVENT_STATUS_CANCELLED), "status")
    shown = events.instances(series.name, show_deleted=True)
    assert second in names(shown)
    assert second not in names(events.instances(series.name))
    assert second not in names(events.window(*ALL))
    assert list(events.get(series.name).recurrence.exdates) == [at(FIRST + WEEK)]
