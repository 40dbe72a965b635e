"""ListEvents: windows, default month, month, upcoming, order, sync, tombstones, filters."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import grpc
import pytest
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import event_service_pb2 as ev_pb
from google.type import date_pb2

from tests.helpers import Almanac, TestAccount, expect_error, on_each_store
from tests.services.events.support import (
    EventsOf,
    at,
    day,
    local,
    names,
    ts,
    utc,
)

Code = grpc.StatusCode
HOUR = dt.timedelta(hours=1)


@on_each_store
def test_window_holds_events_ending_after_start_and_starting_before_end(
    almanac: Almanac, account: TestAccount
) -> None:
    events = EventsOf(account)
    t10 = utc(2026, 4, 1, 10)
    meeting = events.create(start=at(t10, "UTC"), end=at(t10 + HOUR, "UTC"))
    instant_event = events.create(start=at(t10 + 3 * HOUR, "UTC"), end=at(t10 + 3 * HOUR, "UTC"))
    minute = dt.timedelta(minutes=1)
    cases = [
        ((t10 - HOUR, t10), []),  # ends exactly when the meeting starts
        ((t10 + HOUR, t10 + 2 * HOUR), []),  # starts exactly when it ends
        ((t10 - HOUR, t10 + minute), [meeting.name]),
        ((t10 + HOUR - minute, t10 + 2 * HOUR), [meeting.name]),
        ((t10 + 10 * minute, t10 + 20 * minute), [meeting.name]),  # inside it
        ((t10 - HOUR, t10 + 5 * HOUR), [meeting.name, instant_event.name]),
        # A zero-length event is in a window that starts at it, not one ending at it.
        ((t10 + 3 * HOUR, t10 + 4 * HOUR), [instant_event.name]),
        ((t10 + 2 * HOUR, t10 + 3 * HOUR), []),
    ]
    for (begin, end), expected in cases:
        assert names(events.window(begin, end)) == expected, (begin, end)
    err = expect_error(Code.INVALID_ARGUMENT, lambda: events.window(t10, t10 - HOUR))
    assert err.fields == {"end_time"}


def test_default_window_is_the_current_month_in_the_calendar_zone(
    almanac: Almanac, account: TestAccount
) -> None:
    zone = "Pacific/Kiritimati"  # UTC+14: its month starts a day before UTC's
    cal = account.create_calendar("Kiritimati", time_zone=zone).name
    events = EventsOf(account)
    today = dt.datetime.now(ZoneInfo(zone))
    first = local(zone, today.year, today.month, 1)
    nxt = local(zone, today.year + today.month // 12, today.month % 12 + 1, 1)
    half = dt.timedelta(minutes=30)
    inside = [
        events.create(cal, start=at(first + half), display_name="first morning"),
        events.create(cal, start=at(nxt - 2 * half, "UTC"), display_name="last evening"),
        events.create(cal, start=day(first.year, first.month, 1), display_name="first day"),
    ]
    events.create(cal, start=at(first - 2 * half), display_name="before")
    events.create(cal, start=at(nxt + half), display_name="after")
    events.create(cal, start=day(nxt.year, nxt.month, nxt.day), display_name="next month")
    listed = events.listing(cal)
    assert sorted(names(listed)) == sorted(names(inside))
    assert events.listing(cal, month={"year": first.year, "month": first.month}) == listed


@on_each_store
def test_month_in_the_calendar_zone(almanac: Almanac, account: TestAccount) -> None:
    zone = "Pacific/Pago_Pago"  # UTC-11
    cal = account.create_calendar("Pago Pago", time_zone=zone).name
    events = EventsOf(account)
    march_first = events.create(cal, start=at(local(zone, 2026, 3, 1, 0, 30)))
    march_last = events.create(cal, start=at(local(zone, 2026, 3, 31, 23)))  # April in UTC
    events.create(cal, start=at(local(zone, 2026, 2, 28, 22)))
    events.create(cal, start=at(local(zone, 2026, 4, 1, 0, 0)))
    series = events.create(
        cal, start=day(2026, 2, 27), recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=4"])
    )
    listed = events.listing(cal, month={"year": 2026, "month": 3})
    assert names(listed) == [
        f"{series.name}_20260301", march_first.name, f"{series.name}_20260302", march_last.name,
    ]  # fmt: skip
    for bad in (
        {"month": date_pb2.Date(year=2026, month=3, day=5)},
        {"month": date_pb2.Date(year=2026, month=13)},
        {"month": date_pb2.Date(year=2026, month=3), "start_time": ts(utc(2026, 3, 1))},
        {"month": date_pb2.Date(year=2026, month=3), "upcoming": True},
    ):
        err = expect_error(Code.INVALID_ARGUMENT, lambda b=bad: events.listing(cal, **b))
        assert "month" in err.fields, bad


def test_upcoming(almanac: Almanac, account: TestAccount) -> None:
    """Events that have not ended yet, soonest first (whatever order_by says)."""
    events = EventsOf(account)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def make(title: str, start: dt.datetime) -> None:
        events.create(display_name=title, start=at(start, "UTC"))

    make("ended", now - 2 * HOUR)  # ended an hour ago
    make("running", now - HOUR / 2)
    make("tomorrow", now + dt.timedelta(days=1))
    make("soon", now + HOUR)
    make("far", now + dt.timedelta(days=500))
    make("created later", now + 2 * HOUR)

    def titles(**fields: object) -> list[str]:
        return [e.display_name for e in events.listing(upcoming=True, **fields)]

    expected = ["running", "soon", "created later", "tomorrow"]
    assert titles() == expected
    assert titles(expansion=ev_pb.EXPANSION_MASTERS) == [*expected, "far"]
    err = expect_error(
        Code.INVALID_ARGUMENT, lambda: events.listing(upcoming=True, start_time=ts(now))
    )
    assert "upcoming" in err.fields
    assert titles(order_by="create_time") == expected
    assert titles(order_by="create_time desc") == expected


@on_each_store
def test_order_by(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    c = events.create(display_name="c", start=at(utc(2026, 5, 3, 9), "UTC"))
    a = events.create(display_name="a", start=at(utc(2026, 5, 1, 9), "UTC"))
    b = events.create(display_name="b", start=at(utc(2026, 5, 2, 9), "UTC"))
    time.sleep(0.01)
    events.update(ev_pb.Event(name=c.name, location="x"), "location")
    events.update(ev_pb.Event(name=a.name, location="x"), "location")
    window = (utc(2026, 5, 1), utc(2026, 6, 1))
    expected = {
        "": [a, b, c],
        "start": [a, b, c],
        "start desc": [c, b, a],
        "start asc": [a, b, c],
        "create_time": [c, a, b],
        "create_time desc": [b, a, c],
        "update_time": [b, c, a],
        "update_time desc": [a, c, b],
    }
    for order, events_in_order in expected.items():
        assert names(events.window(*window, order_by=order)) == names(events_in_order), order
    for bad in ("title", "start sideways", "start desc desc", "-start"):
        err = expect_error(Code.INVALID_ARGUMENT, lambda o=bad: events.window(*window, order_by=o))
        assert err.fields == {"order_by"}, bad


def test_order_by_update_time_with_instances(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = events.create(
        start=day(2026, 5, 4), recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=3"])
    )
    single = events.create(start=day(2026, 5, 1))
    events.update(ev_pb.Event(name=f"{series.name}_20260505", location="x"), "location")
    listed = events.window(utc(2026, 5, 1), utc(2026, 6, 1), order_by="update_time desc")
    # Unmodified instances carry their master's update_time; ties go by name.
    assert names(listed) == [
        f"{series.name}_20260505", single.name, f"{series.name}_20260504",
        f"{series.name}_20260506",
    ]  # fmt: skip
    times = [e.update_time.ToDatetime() for e in listed]
    assert times == sorted(times, reverse=True)


@on_each_store
def test_updated_after_and_tombstones(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    window = (utc(2026, 5, 1), utc(2026, 6, 1))
    keep = events.create(display_name="keep", start=day(2026, 5, 1))
    change = events.create(display_name="change", start=day(2026, 5, 2))
    gone = events.create(display_name="gone", start=day(2026, 5, 3))
    series = events.create(
        display_name="series",
        start=day(2026, 5, 10),
        recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=3"]),
    )
    mark = max(e.update_time.ToDatetime(dt.UTC) for e in (keep, change, gone, series))
    time.sleep(0.01)
    events.update(ev_pb.Event(name=change.name, location="new"), "location")
    events.delete(gone.name)
    events.update(ev_pb.Event(name=f"{series.name}_20260511", location="one"), "location")

    since = events.window(*window, updated_after=ts(mark))
    assert names(since) == [change.name, f"{series.name}_20260511"]
    with_deleted = events.window(*window, updated_after=ts(mark), show_deleted=True)
    assert names(with_deleted) == [change.name, gone.name, f"{series.name}_20260511"]
    (tombstone,) = [e for e in with_deleted if e.name == gone.name]
    assert tombstone.HasField("delete_time")
    assert tombstone.delete_time.ToDatetime(dt.UTC) > mark
    assert tombstone.display_name == "gone"
    # Without updated_after: tombstones only with show_deleted.
    assert gone.name not in names(events.window(*window))
    everything = events.window(*window, show_deleted=True)
    assert gone.name in names(everything) and len(everything) == 6
    assert [e.name for e in everything if e.HasField("delete_time")] == [gone.name]
    # A whole-series change reports every instance.
    later = max(e.update_time.ToDatetime(dt.UTC) for e in events.window(*window))
    time.sleep(0.01)
    events.update(ev_pb.Event(name=series.name, description="all"), "description")
    changed = events.window(*window, updated_after=ts(later))
    assert names(changed) == [f"{series.name}_20260510", f"{series.name}_20260512"]


def _filter_calendar(account: TestAccount) -> str:
    return account.create_calendar(
        "Filters",
        event_types=[
            cal_pb.EventType(id="focus", display_name="Focus"),
            cal_pb.EventType(id="ooo", display_name="Out of office"),
        ],
    ).name


@on_each_store
def test_filters(almanac: Almanac, account: TestAccount) -> None:
    cal = _filter_calendar(account)
    events = EventsOf(account)
    window = (utc(2026, 5, 1), utc(2026, 6, 1))
    design = events.create(
        cal,
        display_name="Design review",
        description="Bring the MOCKUPS",
        start=day(2026, 5, 4),
        categories=["work", "design"],
        event_type="focus",
        attendees=[ev_pb.Attendee(email="Ann@Example.com")],
    )
    lunch = events.create(
        cal,
        display_name="Lunch",
        location="Café Mockingbird",
        start=day(2026, 5, 5),
        categories=["private"],
        organizer=ev_pb.Person(email="olga@example.com"),
    )
    leave = events.create(
        cal,
        display_name="Vacation",
        start=day(2026, 5, 20),
        event_type="ooo",
        recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=2"]),
        categories=["work"],
    )
    leave_days = [f"{leave.name}_20260520", f"{leave.name}_20260521"]
    cases = [
        ({"category": "work"}, [design.name, *leave_days]),
        ({"category": "Work"}, []),  # exact match
        ({"category": "design"}, [design.name]),
        ({"event_type": "ooo"}, leave_days),
        ({"event_type": "focus"}, [design.name]),
        ({"attendee_email": "ann@example.COM"}, [design.name]),
        ({"attendee_email": "OLGA@example.com"}, [lunch.name]),  # the organizer
        ({"attendee_email": "nobody@example.com"}, []),
        ({"query": "mock"}, [design.name, lunch.name]),  # description, location
        ({"query": "REVIEW"}, [design.name]),  # title
        ({"query": "vacation", "category": "work"}, leave_days),
        ({"query": "vacation", "category": "private"}, []),
    ]
    for fields, expected in cases:
        assert names(events.window(*window, cal, **fields)) == expected, fields
        reply = events.stub.ListEvents(
            ev_pb.ListEventsRequest(
                parent=cal, start_time=ts(window[0]), end_time=ts(window[1]), **fields
            )
        )
        assert reply.total_size == len(expected), fields


def test_filters_see_an_exceptions_own_fields(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = events.create(
        start=day(2026, 5, 4),
        categories=["standup"],
        recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=3"]),
    )
    second = f"{series.name}_20260505"
    events.update(ev_pb.Event(name=second, categories=["retro"]), "categories")
    window = (utc(2026, 5, 1), utc(2026, 6, 1))
    assert names(events.window(*window, category="retro")) == [second]
    assert names(events.window(*window, category="standup")) == [
        f"{series.name}_20260504", f"{series.name}_20260506",
    ]  # fmt: skip


@pytest.mark.parametrize("expansion", [ev_pb.EXPANSION_INSTANCES, ev_pb.EXPANSION_MASTERS])
def test_one_bound_alone(almanac: Almanac, account: TestAccount, expansion: int) -> None:
    """One bound: the other side is open for masters, one year wide for instances."""
    events = EventsOf(account)
    near = events.create(start=day(2026, 5, 1))
    far = events.create(start=day(2028, 5, 1))
    old = events.create(start=day(2020, 5, 1))
    from_start = names(events.listing(start_time=ts(utc(2026, 4, 1)), expansion=expansion))
    until_end = names(events.listing(end_time=ts(utc(2028, 6, 1)), expansion=expansion))
    if expansion == ev_pb.EXPANSION_MASTERS:
        assert from_start == [near.name, far.name]
        assert until_end == [old.name, near.name, far.name]
    else:
        assert from_start == [near.name]
        assert until_end == [far.name]
