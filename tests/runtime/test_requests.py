"""The checks every request goes through: decoding and time values."""

from __future__ import annotations

import datetime as dt

import pytest
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.message import Message

from connectors.errors import InvalidArgument
from services.runtime.requests import (
    _CHECKS,
    MAX_INSTANT,
    MIN_INSTANT,
    Undecodable,
    check_request,
    saturating_add,
    tolerant_deserializer,
)


def _violations(request: object) -> list[tuple[str, str]]:
    with pytest.raises(InvalidArgument) as caught:
        check_request(request)
    return list(caught.value.violations)


def test_undecodable_bytes_become_a_marker_then_invalid_argument() -> None:
    decode = tolerant_deserializer(ev_pb.GetEventRequest.FromString)
    assert decode is not None
    assert decode(ev_pb.GetEventRequest(name="x").SerializeToString()).name == "x"
    marker = decode(b"\x0a\x05ab")
    assert isinstance(marker, Undecodable)
    with pytest.raises(InvalidArgument) as caught:
        check_request(marker)
    assert caught.value.reason == "UNDECODABLE_REQUEST"


def test_every_bad_time_value_is_named_with_its_path() -> None:
    request = ev_pb.ListEventsRequest(
        start_time=timestamp_pb2.Timestamp(seconds=MAX_INSTANT + 1),
        end_time=timestamp_pb2.Timestamp(seconds=0, nanos=-1),
    )
    event = ev_pb.Event(
        start=common_pb2.EventTime(date_time=timestamp_pb2.Timestamp(seconds=-(2**63))),
        reminders=[ev_pb.Reminder(), ev_pb.Reminder()],
    )
    create = ev_pb.CreateEventRequest(event=event)
    assert {f for f, _ in _violations(request)} == {"start_time", "end_time"}
    assert {f for f, _ in _violations(create)} == {"event.start.date_time"}


@pytest.mark.parametrize(
    "value",
    [
        timestamp_pb2.Timestamp(seconds=-(2**63)),
        timestamp_pb2.Timestamp(seconds=MIN_INSTANT - 1),
        duration_pb2.Duration(seconds=1, nanos=-1),
        duration_pb2.Duration(seconds=315_576_000_001),
    ],
)
def test_out_of_range_values(value: object) -> None:
    assert isinstance(value, Message)
    holder = common_pb2.TimeRange()
    if isinstance(value, timestamp_pb2.Timestamp):
        holder.start_time.CopyFrom(value)
        assert _violations(holder)[0][0] == "start_time"
    else:
        assert _CHECKS[value.DESCRIPTOR.full_name](value)


def test_the_edges_themselves_are_accepted() -> None:
    check_request(
        common_pb2.TimeRange(
            start_time=timestamp_pb2.Timestamp(seconds=MIN_INSTANT),
            end_time=timestamp_pb2.Timestamp(seconds=MAX_INSTANT, nanos=999_999_999),
        )
    )


def test_saturating_add_stays_between_the_edges() -> None:
    high = dt.datetime.fromtimestamp(MAX_INSTANT, dt.UTC)
    assert saturating_add(high, dt.timedelta(days=5 * 366)) == high
    low = dt.datetime.fromtimestamp(MIN_INSTANT, dt.UTC)
    assert saturating_add(low, -dt.timedelta(days=366)) == low
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert saturating_add(now, dt.timedelta(days=1)) == dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
