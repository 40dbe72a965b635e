"""ListEvents paging: total_size, page_size bounds, page walks, tokens, range limits."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from almanac.v1 import event_service_pb2 as ev_pb

from tests.helpers import Almanac, TestAccount, expect_error, on_each_store
from tests.services.events.support import EventsOf, at, day, names, ts, utc

Code = grpc.StatusCode
WINDOW = (utc(2026, 3, 1), utc(2026, 5, 1))


def _request(parent: str, **fields: object) -> ev_pb.ListEventsRequest:
    return ev_pb.ListEventsRequest(
        parent=parent, start_time=ts(WINDOW[0]), end_time=ts(WINDOW[1]), **fields
    )


def _walk(events: EventsOf, request: ev_pb.ListEventsRequest) -> tuple[list[str], list[int]]:
    """Names of every page in order, and each page's total_size."""
    seen: list[str] = []
    totals: list[int] = []
    for _ in range(1000):
        reply = events.stub.ListEvents(request)
        assert len(reply.events) <= request.page_size
        seen.extend(names(list(reply.events)))
        totals.append(reply.total_size)
        if not reply.next_page_token:
            return seen, totals
        assert len(reply.events) == request.page_size
        request.page_token = reply.next_page_token
    raise AssertionError("pagination did not end")


def _mixed_calendar(events: EventsOf) -> None:
    """Singles (several at the same instant), a daily series with an exception
    moved elsewhere and a cancelled instance, and an all-day series."""
    for i in range(9):
        events.create(display_name=f"single {i}", start=at(utc(2026, 3, 10 + i % 3, 9), "UTC"))
    for _ in range(4):
        events.create(display_name="same time", start=at(utc(2026, 3, 20, 12), "UTC"))
    series = events.create(
        display_name="daily",
        start=at(utc(2026, 3, 1, 8), "UTC"),
        recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=30"]),
    )
    events.update(
        ev_pb.Event(name=f"{series.name}_20260305T080000Z", start=at(utc(2026, 4, 20, 7), "UTC")),
        "start",
    )
    events.delete(f"{series.name}_20260306T080000Z")
    events.create(
        display_name="weekly all-day",
        start=day(2026, 3, 2),
        recurrence=ev_pb.Recurrence(rrules=["FREQ=WEEKLY;COUNT=8"]),
    )


@on_each_store
@pytest.mark.parametrize("order_by", ["", "start desc", "update_time desc", "create_time"])
def test_walking_pages_returns_each_event_once(
    almanac: Almanac, account: TestAccount, order_by: str
) -> None:
    events = EventsOf(account)
    _mixed_calendar(events)
    everything = events.window(*WINDOW, order_by=order_by, page_size=1000)
    assert len(everything) == 9 + 4 + 29 + 8
    assert len(set(names(everything))) == len(everything)
    for size in (1, 7, 13):
        seen, totals = _walk(events, _request(account.primary, order_by=order_by, page_size=size))
        assert seen == names(everything), size
        assert set(totals) == {len(everything)}, totals


def test_page_size_bounds(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    events.create(
        start=day(2026, 1, 1), recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=1100"])
    )
    window = {"start_time": ts(utc(2026, 1, 1)), "end_time": ts(utc(2029, 2, 1))}
    default = events.stub.ListEvents(ev_pb.ListEventsRequest(parent=account.primary, **window))
    assert len(default.events) == 100 and default.next_page_token
    assert default.total_size == 1100
    capped = events.stub.ListEvents(
        ev_pb.ListEventsRequest(parent=account.primary, page_size=5000, **window)
    )
    assert len(capped.events) == 1000 and capped.next_page_token
    rest = events.stub.ListEvents(
        ev_pb.ListEventsRequest(
            parent=account.primary, page_size=5000, page_token=capped.next_page_token, **window
        )
    )
    assert len(rest.events) == 100 and not rest.next_page_token
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.stub.ListEvents(
            ev_pb.ListEventsRequest(parent=account.primary, page_size=-1, **window)
        ),
    )
    assert err.fields == {"page_size"}


def test_page_token_with_other_filters(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    for i in range(5):
        events.create(display_name=f"e{i}", start=day(2026, 3, 2 + i), categories=["c"])
    first = events.stub.ListEvents(_request(account.primary, page_size=2))
    token = first.next_page_token
    assert token
    # The same request with another page size may continue.
    second = events.stub.ListEvents(_request(account.primary, page_size=3, page_token=token))
    assert len(second.events) == 3
    assert not set(names(list(first.events))) & set(names(list(second.events)))
    for changed in (
        {"category": "c"},
        {"query": "e"},
        {"order_by": "start desc"},
        {"show_deleted": True},
        {"expansion": ev_pb.EXPANSION_MASTERS},
        {"include_raw": True},
    ):
        err = expect_error(
            Code.INVALID_ARGUMENT,
            lambda c=changed: events.stub.ListEvents(
                _request(account.primary, page_size=2, page_token=token, **c)
            ),
        )
        assert err.fields == {"page_token"}, changed
    other_window = ev_pb.ListEventsRequest(
        parent=account.primary,
        start_time=ts(utc(2026, 3, 2)),
        end_time=ts(WINDOW[1]),
        page_size=2,
        page_token=token,
    )
    err = expect_error(Code.INVALID_ARGUMENT, lambda: events.stub.ListEvents(other_window))
    assert err.fields == {"page_token"}
    other_calendar = account.create_calendar("Other").name
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.stub.ListEvents(_request(other_calendar, page_size=2, page_token=token)),
    )
    assert err.fields == {"page_token"}
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.stub.ListEvents(_request(account.primary, page_token=token[:-2] + "xx")),
    )
    assert err.fields == {"page_token"}


def test_instance_range_limit_is_five_years(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    series = events.create(
        start=day(2026, 1, 1), recurrence=ev_pb.Recurrence(rrules=["FREQ=YEARLY;COUNT=20"])
    )
    start = utc(2026, 1, 1)
    five_years = events.window(start, utc(2031, 1, 1))
    assert len(five_years) == 5
    err = expect_error(
        Code.INVALID_ARGUMENT, lambda: events.window(start, start + dt.timedelta(days=6 * 365))
    )
    assert err.fields == {"end_time"}
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.instances(
            series.name, start_time=ts(start), end_time=ts(start + dt.timedelta(days=6 * 365))
        ),
    )
    assert err.fields == {"end_time"}
    # Masters are not expanded: any range will do (endless series: see
    # test_events_instances.test_expansion_masters_with_an_endless_series).
    masters = events.window(start, utc(2100, 1, 1), expansion=ev_pb.EXPANSION_MASTERS)
    assert names(masters) == [series.name]


def test_a_listing_expands_at_most_50000_instances(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    events.create(
        start=at(utc(2026, 1, 1), "UTC"),
        end=at(utc(2026, 1, 1, 0, 10), "UTC"),
        recurrence=ev_pb.Recurrence(rrules=["FREQ=HOURLY;BYMINUTE=0,30;COUNT=60000"]),
    )
    # Within five years, but 60,000 instances.
    err = expect_error(
        Code.INVALID_ARGUMENT, lambda: events.window(utc(2026, 1, 1), utc(2030, 1, 1))
    )
    assert err.fields == {"end_time"}
    assert err.reason == "TOO_MANY_INSTANCES"
    assert len(events.window(utc(2026, 1, 1), utc(2026, 1, 3), page_size=1000)) == 96
