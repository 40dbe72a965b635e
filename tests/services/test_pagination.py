"""Pagination (AIP-158): page sizes, walking pages, page-token integrity."""

from __future__ import annotations

import base64
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from google.protobuf import timestamp_pb2

from tests.helpers import Almanac, TestAccount, expect_error, list_all, on_each_store

Code = grpc.StatusCode


def _make_calendars(account: TestAccount, count: int) -> list[str]:
    return [account.create_calendar(f"Cal {i}", calendar_id=f"c{i:04d}").name for i in range(count)]


@on_each_store
def test_walk_calendar_pages(almanac: Almanac, account: TestAccount) -> None:
    names = [account.primary, *_make_calendars(account, 7)]
    calendars = almanac.calendars()
    request = cal_pb.ListCalendarsRequest(parent=account.name, page_size=3)
    seen: list[str] = []
    sizes: list[int] = []
    while True:
        reply = calendars.ListCalendars(request)
        assert reply.total_size == 8
        sizes.append(len(reply.calendars))
        seen += [c.name for c in reply.calendars]
        if not reply.next_page_token:
            break
        request.page_token = reply.next_page_token
    assert sizes == [3, 3, 2]
    assert seen == names  # each once, primary first, then oldest first


def test_pages_stay_consistent_while_calendars_are_added(
    almanac: Almanac, account: TestAccount
) -> None:
    names = [account.primary, *_make_calendars(account, 4)]
    calendars = almanac.calendars()
    first = calendars.ListCalendars(cal_pb.ListCalendarsRequest(parent=account.name, page_size=2))
    names.append(account.create_calendar("Late").name)
    rest = list_all(
        calendars.ListCalendars,
        cal_pb.ListCalendarsRequest(
            parent=account.name, page_size=2, page_token=first.next_page_token
        ),
        "calendars",
    )
    assert [c.name for c in first.calendars] + [c.name for c in rest] == names


def test_walk_schedule_pages(almanac: Almanac, account: TestAccount) -> None:
    calendars = almanac.calendars()
    names = [
        calendars.CreateSchedule(
            cal_pb.CreateScheduleRequest(
                parent=account.primary,
                schedule_id=f"s{i}",
                schedule=cal_pb.Schedule(display_name=f"S{i}"),
            )
        ).name
        for i in range(5)
    ]
    first = calendars.ListSchedules(
        cal_pb.ListSchedulesRequest(parent=account.primary, page_size=2)
    )
    assert len(first.schedules) == 2 and first.total_size == 5 and first.next_page_token
    walked = list_all(
        calendars.ListSchedules,
        cal_pb.ListSchedulesRequest(parent=account.primary, page_size=2),
        "schedules",
    )
    assert [s.name for s in walked] == names


def test_page_size_zero_means_default_of_100(almanac: Almanac, account: TestAccount) -> None:
    zones = almanac.calendars().ListTimeZones(cal_pb.ListTimeZonesRequest(page_size=0))
    assert len(zones.time_zones) == 100
    assert zones.next_page_token and zones.total_size > 100
    _make_calendars(account, 3)
    reply = almanac.calendars().ListCalendars(cal_pb.ListCalendarsRequest(parent=account.name))
    assert len(reply.calendars) == 4 and not reply.next_page_token


def test_large_page_size_is_lowered_not_rejected(almanac: Almanac) -> None:
    zones = almanac.calendars().ListTimeZones(cal_pb.ListTimeZonesRequest(page_size=5000))
    assert 300 < len(zones.time_zones) <= 1000
    assert len(zones.time_zones) == zones.total_size and not zones.next_page_token
    tokens = almanac.accounts().ListApiTokens(acc_pb.ListApiTokensRequest(page_size=2**31 - 1))
    assert tokens.api_tokens


@pytest.mark.slow
def test_page_size_over_1000_is_coerced_to_1000(almanac: Almanac, account: TestAccount) -> None:
    calendars = almanac.calendars()

    def create(i: int) -> None:
        calendars.CreateCalendar(
            cal_pb.CreateCalendarRequest(
                parent=account.name,
                calendar_id=f"bulk{i:04d}",
                calendar=cal_pb.Calendar(display_name=f"Bulk {i}"),
            )
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(1001)))
    first = calendars.ListCalendars(
        cal_pb.ListCalendarsRequest(parent=account.name, page_size=5000)
    )
    assert first.total_size == 1002
    assert len(first.calendars) == 1000
    assert first.next_page_token
    rest = calendars.ListCalendars(
        cal_pb.ListCalendarsRequest(
            parent=account.name, page_size=5000, page_token=first.next_page_token
        )
    )
    assert len(rest.calendars) == 2 and not rest.next_page_token
    names = [c.name for c in first.calendars] + [c.name for c in rest.calendars]
    assert len(set(names)) == 1002


def test_negative_page_size_is_invalid(almanac: Almanac, account: TestAccount) -> None:
    calendars, accounts = almanac.calendars(), almanac.accounts()
    calls = [
        lambda: calendars.ListCalendars(
            cal_pb.ListCalendarsRequest(parent=account.name, page_size=-1)
        ),
        lambda: calendars.ListSchedules(
            cal_pb.ListSchedulesRequest(parent=account.primary, page_size=-5)
        ),
        lambda: calendars.ListTimeZones(cal_pb.ListTimeZonesRequest(page_size=-1)),
        lambda: accounts.ListAccounts(acc_pb.ListAccountsRequest(page_size=-1)),
        lambda: accounts.ListApiTokens(acc_pb.ListApiTokensRequest(page_size=-100)),
    ]
    for call in calls:
        assert expect_error(Code.INVALID_ARGUMENT, call).fields == {"page_size"}


def _tamper(token: str) -> str:
    """The same token with one byte of its payload changed (MAC left as it was)."""
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[-5] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


@on_each_store
def test_tampered_page_token_is_invalid(almanac: Almanac, account: TestAccount) -> None:
    _make_calendars(account, 3)
    calendars = almanac.calendars()
    request = cal_pb.ListCalendarsRequest(parent=account.name, page_size=2)
    token = calendars.ListCalendars(request).next_page_token
    assert token
    for bad in (_tamper(token), token[:-3], "not a token", token + "AAAA"):
        request.page_token = bad
        err = expect_error(Code.INVALID_ARGUMENT, lambda: calendars.ListCalendars(request))
        assert err.fields == {"page_token"}


def test_page_token_from_another_request_is_invalid(almanac: Almanac, account: TestAccount) -> None:
    _make_calendars(account, 3)
    other = TestAccount(almanac, almanac.create_local_account())
    _make_calendars(other, 3)
    calendars = almanac.calendars()
    base = cal_pb.ListCalendarsRequest(parent=account.name, page_size=2)
    token = calendars.ListCalendars(base).next_page_token
    variants = [
        cal_pb.ListCalendarsRequest(parent=account.name, include_raw=True),
        cal_pb.ListCalendarsRequest(parent=account.name, include_schedules=True),
        cal_pb.ListCalendarsRequest(parent=other.name),
    ]
    for variant in variants:
        variant.page_size, variant.page_token = 2, token
        err = expect_error(Code.INVALID_ARGUMENT, lambda v=variant: calendars.ListCalendars(v))
        assert err.fields == {"page_token"}
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: calendars.ListSchedules(
            cal_pb.ListSchedulesRequest(parent=account.primary, page_token=token)
        ),
    )
    assert err.fields == {"page_token"}
    # A different page_size is fine: only the other fields must match.
    rest = calendars.ListCalendars(
        cal_pb.ListCalendarsRequest(parent=account.name, page_size=10, page_token=token)
    )
    assert [c.name for c in rest.calendars] == [account.calendar_name(f"c{i:04d}") for i in (1, 2)]


def test_time_zone_page_token_bound_to_query_and_time(almanac: Almanac) -> None:
    calendars = almanac.calendars()
    at = timestamp_pb2.Timestamp(seconds=int(time.time()))
    request = cal_pb.ListTimeZonesRequest(query="america/", page_size=10, time=at)
    token = calendars.ListTimeZones(request).next_page_token
    assert token
    changed_query = cal_pb.ListTimeZonesRequest(
        query="europe/", page_size=10, time=at, page_token=token
    )
    changed_time = cal_pb.ListTimeZonesRequest(
        query="america/", page_size=10, page_token=token, time=timestamp_pb2.Timestamp(seconds=0)
    )
    for bad in (changed_query, changed_time):
        err = expect_error(Code.INVALID_ARGUMENT, lambda r=bad: calendars.ListTimeZones(r))
        assert err.fields == {"page_token"}


def test_walk_time_zone_pages(almanac: Almanac) -> None:
    calendars = almanac.calendars()
    everything = calendars.ListTimeZones(cal_pb.ListTimeZonesRequest(page_size=1000))
    at = timestamp_pb2.Timestamp(seconds=1_750_000_000)
    walked = list_all(
        calendars.ListTimeZones, cal_pb.ListTimeZonesRequest(page_size=97, time=at), "time_zones"
    )
    ids = [z.id for z in walked]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert ids == [z.id for z in everything.time_zones]
    assert len(ids) == everything.total_size
