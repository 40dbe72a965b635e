"""What happens to events when their calendar or account goes."""

from __future__ import annotations

import grpc
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import event_service_pb2 as ev_pb

from tests.helpers import Almanac, TestAccount, expect_error, on_each_store
from tests.services.events.support import EventsOf, at, utc

Code = grpc.StatusCode


def _fill(events: EventsOf, calendar: str) -> None:
    events.create(calendar, display_name="single", start=at(utc(2026, 5, 4, 9), "UTC"))
    events.create(
        calendar,
        display_name="series",
        start=at(utc(2026, 5, 4, 10), "UTC"),
        recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=5"]),
    )


@on_each_store
def test_a_calendar_recreated_under_its_id_starts_empty(
    almanac: Almanac, account: TestAccount
) -> None:
    events = EventsOf(account)
    first = account.create_calendar("Team", calendar_id="team")
    _fill(events, first.name)
    assert len(events.window(utc(2026, 5, 1), utc(2026, 6, 1), first.name)) == 6
    account.calendars().DeleteCalendar(cal_pb.DeleteCalendarRequest(name=first.name))
    again = account.create_calendar("Team again", calendar_id="team")
    assert again.name == first.name
    assert events.window(utc(2026, 5, 1), utc(2026, 6, 1), again.name) == []
    assert events.listing(again.name, expansion=ev_pb.EXPANSION_MASTERS, show_deleted=True) == []


@on_each_store
def test_events_in_the_primary_calendar_need_force_to_delete_the_account(
    almanac: Almanac, account: TestAccount
) -> None:
    events = EventsOf(account)
    _fill(events, account.primary)
    delete = acc_pb.DeleteAccountRequest(name=account.name)
    err = expect_error(Code.FAILED_PRECONDITION, lambda: almanac.accounts().DeleteAccount(delete))
    assert err.reason == "ACCOUNT_NOT_EMPTY"
    assert len(events.window(utc(2026, 5, 1), utc(2026, 6, 1))) == 6
    almanac.accounts().DeleteAccount(acc_pb.DeleteAccountRequest(name=account.name, force=True))
    # The same id again: nothing of the old account's events comes back.
    fresh = TestAccount(almanac, almanac.create_local_account(account.name.split("/")[1]))
    assert EventsOf(fresh).window(utc(2026, 5, 1), utc(2026, 6, 1)) == []
