"""The connector contract suite: every connector must pass it, through the API.

Parametrized over connectors: ``local`` and the reference remote backend
(its accounts are mirrored and written through). A connector adds itself to
``CONNECTORS`` with a ``<name>_target`` fixture (``targets.py``). For a
remote account, each step also checks that the upstream holds what the
mirror shows.
"""

from __future__ import annotations

import uuid

import grpc
import pytest
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import availability_service_pb2 as av_pb
from almanac.v1 import availability_service_pb2_grpc as av_grpc
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import field_mask_pb2

from tests.connectors.targets import Target
from tests.helpers import expect_error, list_all
from tests.services.events.support import at, utc

Code = grpc.StatusCode
CONNECTORS = (
    "local",
    "reference",
    "caldav_radicale",
    "caldav_xandikos",
    "google",
    "graph",
)


@pytest.fixture(params=CONNECTORS)
def target(request: pytest.FixtureRequest) -> Target:
    found: Target = request.getfixturevalue(f"{request.param}_target")
    return found


def check_upstream(t: Target) -> None:
    """A remote account's upstream holds each mirrored series, with its titles."""
    if t.upstream is None:
        return
    mirrored = {
        e.ical_uid: e.display_name
        for e in _list(t, t.account.primary, ev_pb.EXPANSION_MASTERS)
        if not e.HasField("original_start")  # the series, not its exceptions
    }
    assert {uid: titles[0] for uid, titles in t.upstream.series().items()} == mirrored


def _list(t: Target, parent: str, expansion: int = ev_pb.EXPANSION_INSTANCES,
          page_size: int = 100) -> list[ev_pb.Event]:  # fmt: skip
    return list_all(
        t.almanac.events().ListEvents,
        ev_pb.ListEventsRequest(
            parent=parent,
            start_time=at(utc(2026, 11, 1)).date_time,
            end_time=at(utc(2026, 12, 1)).date_time,
            expansion=expansion,
            page_size=page_size,
        ),
        "events",
    )


def _event(title: str, day: int, hour: int = 9, **fields: object) -> ev_pb.Event:
    return ev_pb.Event(
        display_name=title, start=at(utc(2026, 11, day, hour)),
        end=at(utc(2026, 11, day, hour + 1)), **fields,  # type: ignore[arg-type]
    )  # fmt: skip


def _create(t: Target, event: ev_pb.Event, **request: str) -> ev_pb.Event:
    return t.almanac.events().CreateEvent(
        ev_pb.CreateEventRequest(parent=t.account.primary, event=event, **request)
    )


def test_event_crud_with_etags_and_request_ids(target: Target) -> None:
    events = target.almanac.events()
    request_id = str(uuid.uuid4())
    created = _create(target, _event("Review", 3), request_id=request_id)
    assert _create(target, _event("Review", 3), request_id=request_id) == created
    check_upstream(target)
    updated = events.UpdateEvent(
        ev_pb.UpdateEventRequest(
            event=ev_pb.Event(name=created.name, display_name="Review v2", etag=created.etag),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        )
    )
    assert updated.etag != created.etag
    stale = ev_pb.UpdateEventRequest(
        event=ev_pb.Event(name=created.name, display_name="Lost", etag=created.etag),
        update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
    )
    expect_error(Code.ABORTED, lambda: events.UpdateEvent(stale))
    assert events.GetEvent(ev_pb.GetEventRequest(name=created.name)).display_name == "Review v2"
    check_upstream(target)
    expect_error(
        Code.ABORTED,
        lambda: events.DeleteEvent(ev_pb.DeleteEventRequest(name=created.name, etag='"x"')),
    )
    events.DeleteEvent(ev_pb.DeleteEventRequest(name=created.name, etag=updated.etag))
    expect_error(Code.NOT_FOUND, lambda: events.GetEvent(ev_pb.GetEventRequest(name=created.name)))
    check_upstream(target)


def test_bad_input_writes_nothing(target: Target) -> None:
    before = _list(target, target.account.primary)
    bad = ev_pb.Event(
        display_name="x" * 2000, start=at(utc(2026, 11, 5, 10)), end=at(utc(2026, 11, 5, 9))
    )
    failure = expect_error(Code.INVALID_ARGUMENT, lambda: _create(target, bad))
    assert {"event.end", "event.display_name"} <= failure.fields
    assert _list(target, target.account.primary) == before
    check_upstream(target)


def test_paging_lists_every_event_once(target: Target) -> None:
    made = {_create(target, _event(f"E{i}", 10 + i % 5, 8 + i)).name for i in range(7)}
    listed = [e.name for e in _list(target, target.account.primary, page_size=3)]
    assert sorted(listed) == sorted(made)
    check_upstream(target)


def test_series_edits(target: Target) -> None:
    events = target.almanac.events()
    series = _create(
        target, _event("Daily", 16, recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=6"]))
    )
    moved = f"{series.name}_20261118T090000Z"
    events.UpdateEvent(
        ev_pb.UpdateEventRequest(
            event=ev_pb.Event(name=moved, display_name="Daily (special)"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
            scope=ev_pb.RECURRENCE_SCOPE_THIS_INSTANCE,
        )
    )
    events.DeleteEvent(
        ev_pb.DeleteEventRequest(
            name=f"{series.name}_20261119T090000Z", scope=ev_pb.RECURRENCE_SCOPE_THIS_INSTANCE
        )
    )
    events.UpdateEvent(
        ev_pb.UpdateEventRequest(
            event=ev_pb.Event(name=f"{series.name}_20261120T090000Z", display_name="Later"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
            scope=ev_pb.RECURRENCE_SCOPE_THIS_AND_FOLLOWING,
        )
    )
    titles = [(e.start.date_time.ToDatetime().day, e.display_name)
              for e in _list(target, target.account.primary)]  # fmt: skip
    assert sorted(titles) == [
        (16, "Daily"), (17, "Daily"), (18, "Daily (special)"), (20, "Later"), (21, "Later"),
    ]  # fmt: skip
    check_upstream(target)
    if target.upstream is not None:
        held = target.upstream.series()[series.ical_uid]
        assert held == ["Daily", "Daily (special)"]


def test_calendars_crud(target: Target) -> None:
    calendars = target.almanac.calendars()
    made = target.account.create_calendar("Team", time_zone="Europe/Berlin")
    renamed = calendars.UpdateCalendar(
        cal_pb.UpdateCalendarRequest(
            calendar=cal_pb.Calendar(name=made.name, display_name="Team B", etag=made.etag),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        )
    )
    assert renamed.display_name == "Team B"
    if target.upstream is not None:
        assert "Team B" in target.upstream.calendar_names()
    expect_error(
        Code.ABORTED,
        lambda: calendars.DeleteCalendar(
            cal_pb.DeleteCalendarRequest(name=made.name, etag=made.etag)
        ),
    )
    calendars.DeleteCalendar(cal_pb.DeleteCalendarRequest(name=made.name))
    assert made.name not in {c.name for c in target.account.list_calendars()}
    if target.upstream is not None:
        assert "Team B" not in target.upstream.calendar_names()


def test_account_capabilities_cover_the_contract(target: Target) -> None:
    shown = target.almanac.accounts().GetAccount(acc_pb.GetAccountRequest(name=target.account.name))
    for needed in (acc_pb.CAPABILITY_EVENTS, acc_pb.CAPABILITY_EVENT_WRITE,
                   acc_pb.CAPABILITY_BUSY_TIME, acc_pb.CAPABILITY_ICS_EXPORT):  # fmt: skip
        assert needed in shown.capabilities


def test_busy_time_and_export_read_what_was_written(target: Target) -> None:
    """Availability and ICS export work the same on every connector."""
    _create(target, _event("Busy", 24, 14))
    channel = grpc.insecure_channel(target.availability_address)
    free_busy = av_grpc.AvailabilityServiceStub(channel).QueryFreeBusy(
        av_pb.QueryFreeBusyRequest(
            calendars=[target.account.primary],
            time_range=common_pb2.TimeRange(
                start_time=at(utc(2026, 11, 24)).date_time,
                end_time=at(utc(2026, 11, 25)).date_time,
            ),
        ),
        metadata=(("authorization", f"Bearer {target.almanac.admin_secret}"),),
    )
    busy = [(b.start_time.ToDatetime().hour, b.end_time.ToDatetime().hour)
            for b in free_busy.calendars[0].busy]  # fmt: skip
    assert busy == [(14, 15)]
    exported = target.almanac.calendars().ExportCalendar(
        cal_pb.ExportCalendarRequest(name=target.account.primary)
    )
    assert b"SUMMARY:Busy" in exported.data
