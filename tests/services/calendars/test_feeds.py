"""Calendar subscribers over gRPC: states, permissions, bad input."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import calendar_service_pb2_grpc as cal_grpc

from tests.helpers import Almanac, TestAccount, expect_error
from tests.services.activity.support import sqlite_cluster

Code = grpc.StatusCode
State = cal_pb.SubscriberState


def _feed(channel: grpc.Channel, token: str) -> bytes:
    """GetCalendarFeed with no authorization metadata at all."""
    stub = cal_grpc.CalendarServiceStub(channel)
    return bytes(stub.GetCalendarFeed(cal_pb.GetCalendarFeedRequest(feed_token=token)).data)


def test_states_follow_fetches_and_blocking(tmp_path: Path) -> None:
    # ~0.9 s without a fetch makes a subscriber inactive here.
    cluster = sqlite_cluster(tmp_path, ("account", "calendar"), feed_inactive_days="0.00001")
    try:
        almanac = cluster.almanac
        account = TestAccount(almanac, almanac.create_local_account())
        calendars = almanac.calendars()
        made = calendars.CreateCalendarSubscriber(
            cal_pb.CreateCalendarSubscriberRequest(
                parent=account.primary, subscriber=cal_pb.CalendarSubscriber(display_name="Tab")
            )
        )
        token = made.feed_path.rsplit("/", 1)[1]

        def state() -> int:
            listed = calendars.ListCalendarSubscribers(
                cal_pb.ListCalendarSubscribersRequest(parent=account.primary)
            )
            return int(listed.subscribers[0].state)

        assert state() == State.SUBSCRIBER_STATE_ACTIVE
        time.sleep(1.2)
        assert state() == State.SUBSCRIBER_STATE_INACTIVE
        channel = cluster.channel(cluster.address("calendar"))
        assert b"BEGIN:VCALENDAR" in _feed(channel, token)
        assert state() == State.SUBSCRIBER_STATE_ACTIVE
        calendars.BlockCalendarSubscriber(cal_pb.BlockCalendarSubscriberRequest(name=made.name))
        assert state() == State.SUBSCRIBER_STATE_BLOCKED
        failure = expect_error(Code.NOT_FOUND, lambda: _feed(channel, token))
        assert failure.reason == "FEED_NOT_FOUND"
    finally:
        cluster.close()


def test_subscribers_need_the_calendar_scopes(almanac: Almanac, account: TestAccount) -> None:
    other = TestAccount(almanac, almanac.create_local_account())
    request = cal_pb.CreateCalendarSubscriberRequest(parent=account.primary)
    expect_error(
        Code.PERMISSION_DENIED, lambda: other.calendars().CreateCalendarSubscriber(request)
    )
    reader = account.calendars("calendars:read")
    expect_error(Code.PERMISSION_DENIED, lambda: reader.CreateCalendarSubscriber(request))
    listed = reader.ListCalendarSubscribers(
        cal_pb.ListCalendarSubscribersRequest(parent=account.primary)
    )
    assert list(listed.subscribers) == []


def test_bad_subscriber_input_names_the_field(almanac: Almanac, account: TestAccount) -> None:
    long_name = cal_pb.CreateCalendarSubscriberRequest(
        parent=account.primary, subscriber=cal_pb.CalendarSubscriber(display_name="x" * 300)
    )
    failure = expect_error(
        Code.INVALID_ARGUMENT, lambda: almanac.calendars().CreateCalendarSubscriber(long_name)
    )
    assert failure.fields == {"subscriber.display_name"}
    channel = grpc.insecure_channel(almanac.calendar_address)
    failure = expect_error(Code.INVALID_ARGUMENT, lambda: _feed(channel, ""))
    assert failure.fields == {"feed_token"}
    missing = cal_pb.BlockCalendarSubscriberRequest(name=f"{account.primary}/subscribers/nope")
    expect_error(Code.NOT_FOUND, lambda: almanac.calendars().BlockCalendarSubscriber(missing))
