"""EventService instances: expansion, instance names, GetEvent, ListEventInstances."""

from __future__ import annotations

import datetime as dt

import grpc
from almanac.v1 import event_service_pb2 as ev_pb

from tests.helpers import Almanac, TestAccount, expect_error, list_all, on_each_store
from tests.services.events.support import (
    EventsOf,
    at,
    day,
    instant,
    local,
    names,
    starts,
    suffix,
    ts,
    utc,
)

Code = grpc.StatusCode
WEEK = dt.timedelta(days=7)
FIRST = local("Europe/Berlin", 2026, 1, 6, 9)  # a Tuesday


def _weekly(events: EventsOf, rule: str = "FREQ=WEEKLY;COUNT=10", **fields: object) -> ev_pb.Event:
    return events.create(
        event_id=str(fields.pop("event_id", "")),
        display_name="Weekly",
        start=at(FIRST),
        end=at(FIRST + dt.timedelta(hours=1)),
        recurrence=ev_pb.Recurrence(rrules=[rule]),
        **fields,
    )


@on_each_store
def test_list_expands_series_into_instances(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = _weekly(events, event_id="weekly")
    single = events.create(display_name="Single", start=at(utc(2026, 1, 15, 12), "UTC"))
    found = events.window(utc(2026, 1, 1), utc(2026, 2, 1))
    expected_starts = [FIRST + i * WEEK for i in range(4)]
    instances = [e for e in found if e.recurrence_type == ev_pb.RECURRENCE_TYPE_INSTANCE]
    assert [e.name for e in found if e.recurrence_type == ev_pb.RECURRENCE_TYPE_SINGLE] == [
        single.name
    ]
    assert not [e for e in found if e.recurrence_type == ev_pb.RECURRENCE_TYPE_MASTER]
    assert starts(found) == sorted(starts(found))
    assert starts(instances) == [t.astimezone(dt.UTC) for t in expected_starts]
    for i, instance in enumerate(instances):
        original = expected_starts[i]
        assert instance.name == f"{series.name}_{suffix(original)}"
        assert instance.name.rsplit("/", 1)[1] == f"weekly_{suffix(original)}"
        assert instance.recurring_master == series.name
        assert instance.original_start == at(original)
        assert instance.instance_index == i + 1
        assert instance.ical_uid == series.ical_uid
        assert instance.display_name == "Weekly"
        assert not instance.HasField("recurrence")
    # Names are stable: a later listing and another window give the same ones.
    again = events.window(utc(2026, 1, 13), utc(2026, 1, 21))
    assert names(again) == [instances[1].name, single.name, instances[2].name]
    assert again[0] == instances[1]


@on_each_store
def test_expansion_masters_returns_the_series(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = _weekly(events)
    single = events.create(start=at(utc(2026, 1, 15, 12), "UTC"))
    found = events.window(utc(2026, 2, 1), utc(2026, 3, 1), expansion=ev_pb.EXPANSION_MASTERS)
    assert names(found) == [series.name]
    (master,) = found
    assert master.recurrence_type == ev_pb.RECURRENCE_TYPE_MASTER
    assert list(master.recurrence.rrules) == ["FREQ=WEEKLY;COUNT=10"]
    assert master.start == series.start
    both = events.window(utc(2026, 1, 1), utc(2026, 2, 1), expansion=ev_pb.EXPANSION_MASTERS)
    assert names(both) == [series.name, single.name]
    # After its last instance (2026-03-10) the series is out of the window.
    assert events.window(utc(2026, 3, 11), utc(2026, 4, 1), expansion=ev_pb.EXPANSION_MASTERS) == []
    explicit = events.window(utc(2026, 1, 1), utc(2026, 2, 1), expansion=ev_pb.EXPANSION_INSTANCES)
    assert explicit == events.window(utc(2026, 1, 1), utc(2026, 2, 1))


@on_each_store
def test_expansion_masters_with_an_endless_series(almanac: Almanac, account: TestAccount) -> None:
    """An endless series' master is listed (its range has no end)."""
    events = EventsOf(account)
    endless = _weekly(events, "FREQ=WEEKLY")
    allday = events.create(
        start=day(2026, 1, 1), recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY"])
    )
    for window in ((utc(2026, 1, 1), utc(2026, 2, 1)), (utc(2030, 1, 1), utc(2030, 2, 1))):
        found = events.window(*window, expansion=ev_pb.EXPANSION_MASTERS)
        assert sorted(names(found)) == sorted([endless.name, allday.name]), window


@on_each_store
def test_get_instance_by_name_and_by_index(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = _weekly(events)
    listed = events.window(utc(2026, 1, 1), utc(2026, 4, 1))
    assert len(listed) == 10
    for index in (1, 4, 10):
        by_name = events.get(listed[index - 1].name)
        by_index = events.get(series.name, instance_index=index)
        assert by_name == by_index == listed[index - 1]
        assert by_index.instance_index == index
    err = expect_error(Code.OUT_OF_RANGE, lambda: events.get(series.name, instance_index=11))
    assert err.reason
    expect_error(Code.INVALID_ARGUMENT, lambda: events.get(series.name, instance_index=-1))
    # The master itself by its name.
    master = events.get(series.name)
    assert master.recurrence_type == ev_pb.RECURRENCE_TYPE_MASTER


def test_instance_names_that_are_not_occurrences(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = _weekly(events)
    for bad in (
        suffix(FIRST + dt.timedelta(days=1)),  # a Wednesday
        suffix(FIRST + dt.timedelta(minutes=1)),
        suffix(FIRST + 10 * WEEK),  # past COUNT
        "20260106",  # a date for a timed series
        "20261340T000000Z",
    ):
        expect_error(Code.NOT_FOUND, lambda b=bad: events.get(f"{series.name}_{b}"))
    single = events.create(start=day(2026, 1, 1))
    expect_error(Code.NOT_FOUND, lambda: events.get(f"{single.name}_20260101"))
    expect_error(Code.INVALID_ARGUMENT, lambda: events.get(single.name, instance_index=1))


def test_instance_index_on_an_endless_series(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = _weekly(events, "FREQ=WEEKLY")
    instance = events.get(series.name, instance_index=200)
    assert instant(instance.start) == (FIRST + 199 * WEEK).astimezone(dt.UTC)
    assert events.get(instance.name) == instance


@on_each_store
def test_instances_beyond_the_materialized_horizon(almanac: Almanac, account: TestAccount) -> None:
    """Far-future instances (expanded on read) look like near ones."""
    events = EventsOf(account)
    series = _weekly(events, "FREQ=WEEKLY")
    far = events.window(utc(2031, 6, 1), utc(2031, 7, 1))
    assert len(far) == 4
    for instance in far:
        begins = instant(instance.start)
        assert begins.astimezone(FIRST.tzinfo).hour == 9
        assert instance.name == f"{series.name}_{suffix(begins)}"
        weeks = (begins.astimezone(FIRST.tzinfo).date() - FIRST.date()).days // 7
        assert instance.instance_index == weeks + 1
        assert events.get(instance.name) == instance
    # Across the horizon, with no gap or duplicate.
    now = dt.datetime.now(dt.UTC)
    span = events.window(now + dt.timedelta(days=700), now + dt.timedelta(days=760))
    indices = [e.instance_index for e in span]
    assert indices == list(range(indices[0], indices[0] + len(indices)))
    assert len(indices) in (8, 9)


@on_each_store
def test_list_event_instances(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = _weekly(events)
    found = events.instances(series.name)
    assert len(found) == 10
    assert [e.instance_index for e in found] == list(range(1, 11))
    assert found == events.window(utc(2026, 1, 1), utc(2026, 4, 1))
    # A window, and paging.
    window = events.instances(
        series.name, start_time=ts(utc(2026, 2, 1)), end_time=ts(utc(2026, 2, 20))
    )
    assert [e.instance_index for e in window] == [5, 6, 7]
    first = events.stub.ListEventInstances(
        ev_pb.ListEventInstancesRequest(name=series.name, page_size=4)
    )
    assert len(first.events) == 4 and first.next_page_token
    paged = list_all(
        events.stub.ListEventInstances,
        ev_pb.ListEventInstancesRequest(name=series.name, page_size=3),
        "events",
    )
    assert paged == found
    # Cancel one: gone, unless show_deleted.
    events.delete(found[2].name)
    live = events.instances(series.name)
    assert [e.instance_index for e in live] == [1, 2, 4, 5, 6, 7, 8, 9, 10]
    everything = events.instances(series.name, show_deleted=True)
    assert [e.instance_index for e in everything] == list(range(1, 11))
    cancelled = everything[2]
    assert cancelled.name == found[2].name
    assert cancelled.status == ev_pb.EVENT_STATUS_CANCELLED
    assert cancelled.HasField("delete_time")
    assert cancelled.original_start == found[2].original_start


def test_list_event_instances_of_an_endless_series(almanac: Almanac, account: TestAccount) -> None:
    """No end_time: an endless series stops after 5 years (or 50,000 instances)."""
    events = EventsOf(account)
    series = _weekly(events, "FREQ=WEEKLY")
    first = events.stub.ListEventInstances(
        ev_pb.ListEventInstancesRequest(name=series.name, page_size=10)
    )
    assert [e.instance_index for e in first.events] == list(range(1, 11))
    found = events.instances(series.name, page_size=1000)
    assert found[0].instance_index == 1
    last = instant(found[-1].start)
    assert FIRST + dt.timedelta(days=5 * 365 - 7) <= last <= FIRST + dt.timedelta(days=5 * 366)
    assert [e.instance_index for e in found] == list(range(1, len(found) + 1))


def test_list_event_instances_needs_a_series(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    single = events.create(start=day(2026, 1, 1))
    err = expect_error(Code.INVALID_ARGUMENT, lambda: events.instances(single.name))
    assert err.fields == {"name"}
    expect_error(Code.NOT_FOUND, lambda: events.instances(f"{account.primary}/events/missing"))
    series = _weekly(events)
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.instances(
            series.name, start_time=ts(utc(2026, 2, 1)), end_time=ts(utc(2026, 1, 1))
        ),
    )
    assert err.fields == {"end_time"}


def test_all_day_series_instances(almanac: Almanac, account: TestAccount) -> None:
    cal = account.create_calendar("Kiritimati", time_zone="Pacific/Kiritimati").name
    events = EventsOf(account)
    series = events.create(
        cal, "bins", start=day(2026, 1, 5), recurrence=ev_pb.Recurrence(rrules=["FREQ=WEEKLY"])
    )
    found = events.listing(cal, month={"year": 2026, "month": 2})
    assert [e.name.rsplit("/", 1)[1] for e in found] == [
        "bins_20260202", "bins_20260209", "bins_20260216", "bins_20260223",
    ]  # fmt: skip
    assert [e.start for e in found] == [day(2026, 2, d) for d in (2, 9, 16, 23)]
    assert [e.end for e in found] == [day(2026, 2, d) for d in (3, 10, 17, 24)]
    assert all(e.all_day and e.recurring_master == series.name for e in found)
