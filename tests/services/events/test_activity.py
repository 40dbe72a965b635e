"""Every event change appends one row to the activity log, read from the store itself."""

from __future__ import annotations

import grpc
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb

from tests.helpers import Almanac, TestAccount, expect_error, on_each_store
from tests.services.events.support import EventsOf, at, day, store_rows, utc

Code = grpc.StatusCode
ADDED, UPDATED, DELETED = (
    act_pb.ACTIVITY_TYPE_ADDED,
    act_pb.ACTIVITY_TYPE_UPDATED,
    act_pb.ACTIVITY_TYPE_DELETED,
)


def _event_activities(almanac: Almanac, account: TestAccount) -> list[act_pb.Activity]:
    rows = store_rows(
        almanac,
        "SELECT cursor, resource_type, resource_name, activity_type, body FROM activities"
        " WHERE account_id = ? ORDER BY cursor",
        account.id,
    )
    out = []
    for row in rows:
        if row["resource_type"] != "RESOURCE_TYPE_EVENT":
            continue
        activity = act_pb.Activity.FromString(bytes(row["body"]))
        assert activity.resource == row["resource_name"]
        assert int(activity.type) == row["activity_type"]
        out.append(activity)
    return out


def _summary(activities: list[act_pb.Activity]) -> list[tuple[int, str]]:
    return [(a.type, a.resource) for a in activities]


@on_each_store
def test_create_update_delete_each_append_one_row(almanac: Almanac, account: TestAccount) -> None:
    events = EventsOf(account)
    assert _event_activities(almanac, account) == []
    first = events.create(display_name="One", start=day(2026, 6, 1))
    second = events.create(display_name="Two", start=at(utc(2026, 6, 2, 9), "UTC"))
    events.update(ev_pb.Event(name=first.name, display_name="One!"), "display_name")
    events.update(ev_pb.Event(name=second.name, location="Here", transparent=True))
    events.delete(first.name)
    activities = _event_activities(almanac, account)
    assert _summary(activities) == [
        (ADDED, first.name),
        (ADDED, second.name),
        (UPDATED, first.name),
        (UPDATED, second.name),
        (DELETED, first.name),
    ]
    for activity in activities:
        assert activity.resource_type == common_pb2.RESOURCE_TYPE_EVENT
        assert activity.calendar == account.primary
        assert activity.account == account.name
        assert activity.HasField("event_snapshot")
        assert activity.event_snapshot.name == activity.resource
        assert activity.actor.startswith("apiTokens/")
    assert list(activities[2].changed_fields.paths) == ["display_name"]
    assert sorted(activities[3].changed_fields.paths) == ["location", "transparent"]
    assert activities[2].event_snapshot.display_name == "One!"
    assert activities[4].event_snapshot.HasField("delete_time")
    cursors = [
        r["cursor"]
        for r in store_rows(
            almanac,
            "SELECT cursor FROM activities WHERE account_id = ? AND resource_type = ?"
            " ORDER BY create_time, cursor",
            account.id,
            "RESOURCE_TYPE_EVENT",
        )
    ]
    assert cursors == sorted(cursors)


def test_requests_that_change_nothing_append_nothing(
    almanac: Almanac, account: TestAccount
) -> None:
    events = EventsOf(account)
    created = events.create(display_name="Same", start=day(2026, 6, 1))
    before = _event_activities(almanac, account)
    assert len(before) == 1
    # No real change, a rejected change, an etag mismatch, a failed create.
    events.update(ev_pb.Event(name=created.name, display_name="Same"), "display_name")
    expect_error(
        Code.INVALID_ARGUMENT,
        lambda: events.update(ev_pb.Event(name=created.name, color="red"), "color"),
    )
    expect_error(
        Code.ABORTED,
        lambda: events.update(
            ev_pb.Event(name=created.name, display_name="x", etag='"stale"'), "display_name"
        ),
    )
    expect_error(Code.INVALID_ARGUMENT, lambda: events.create(display_name="x" * 2000))
    expect_error(
        Code.ALREADY_EXISTS,
        lambda: events.create(start=day(2026, 6, 1), ical_uid=created.ical_uid),
    )
    assert _event_activities(almanac, account) == before


@on_each_store
def test_series_changes_are_logged_against_what_changed(
    almanac: Almanac, account: TestAccount
) -> None:
    events = EventsOf(account)
    series = events.create(
        start=day(2026, 6, 1), recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=5"])
    )
    second = f"{series.name}_20260602"
    events.update(ev_pb.Event(name=second, display_name="Moved"), "display_name")
    events.update(ev_pb.Event(name=series.name, description="All"), "description")
    activities = _event_activities(almanac, account)
    assert _summary(activities)[0] == (ADDED, series.name)
    # Modifying one instance is one change, to that instance.
    assert [a.resource for a in activities[1:-1]] == [second]
    assert activities[1].event_snapshot.display_name == "Moved"
    assert _summary(activities)[-1] == (UPDATED, series.name)
    assert list(activities[-1].changed_fields.paths) == ["description"]
    # Deleting the series deletes it and its exception.
    count = len(activities)
    events.delete(series.name)
    deleted = _event_activities(almanac, account)[count:]
    assert {(a.type, a.resource) for a in deleted} == {(DELETED, series.name), (DELETED, second)}
