"""Authentication and authorization: tokens, scopes, account access."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from google.protobuf import field_mask_pb2

from tests.helpers import Almanac, AuthedStub, TestAccount, expect_error, on_each_store, unique_id

Code = grpc.StatusCode


def test_missing_token_is_unauthenticated(almanac: Almanac, account: TestAccount) -> None:
    calls: list[Callable[[], Any]] = [
        lambda: almanac.calendars(None).GetCalendar(
            cal_pb.GetCalendarRequest(name=account.primary)
        ),
        lambda: almanac.calendars(None).ListTimeZones(cal_pb.ListTimeZonesRequest()),
        lambda: almanac.accounts(None).GetAccount(acc_pb.GetAccountRequest(name=account.name)),
        lambda: almanac.accounts(None).ListAccounts(acc_pb.ListAccountsRequest()),
    ]
    for call in calls:
        expect_error(Code.UNAUTHENTICATED, call)


def test_bad_or_malformed_token_is_unauthenticated(almanac: Almanac, account: TestAccount) -> None:
    request = cal_pb.GetCalendarRequest(name=account.primary)
    expect_error(
        Code.UNAUTHENTICATED, lambda: almanac.calendars("alm_not-a-real-token").GetCalendar(request)
    )
    stub = almanac.calendars(None)
    for header in (f"Basic {almanac.admin_secret}", "Bearer", "Bearer "):
        expect_error(
            Code.UNAUTHENTICATED,
            lambda h=header: stub.GetCalendar(request, metadata=[("authorization", h)]),
        )


def _reads_of(name: str) -> dict[str, Callable[[AuthedStub, AuthedStub], Any]]:
    """Calls touching account ``name``, by label: f(accounts stub, calendars stub)."""
    cal = f"{name}/calendars/primary"
    return {
        "GetAccount": lambda a, c: a.GetAccount(acc_pb.GetAccountRequest(name=name)),
        "ListCalendars": lambda a, c: c.ListCalendars(cal_pb.ListCalendarsRequest(parent=name)),
        "GetCalendar": lambda a, c: c.GetCalendar(cal_pb.GetCalendarRequest(name=cal)),
        "CreateCalendar": lambda a, c: c.CreateCalendar(
            cal_pb.CreateCalendarRequest(parent=name, calendar=cal_pb.Calendar(display_name="x"))
        ),
        "UpdateCalendar": lambda a, c: c.UpdateCalendar(
            cal_pb.UpdateCalendarRequest(calendar=cal_pb.Calendar(name=cal, display_name="x"))
        ),
        "DeleteCalendar": lambda a, c: c.DeleteCalendar(
            cal_pb.DeleteCalendarRequest(name=f"{name}/calendars/other")
        ),
        "ListSchedules": lambda a, c: c.ListSchedules(cal_pb.ListSchedulesRequest(parent=cal)),
        "GetSchedule": lambda a, c: c.GetSchedule(
            cal_pb.GetScheduleRequest(name=f"{cal}/schedules/s1")
        ),
        "CreateSchedule": lambda a, c: c.CreateSchedule(
            cal_pb.CreateScheduleRequest(parent=cal, schedule=cal_pb.Schedule(display_name="x"))
        ),
        "ExportCalendar": lambda a, c: c.ExportCalendar(cal_pb.ExportCalendarRequest(name=cal)),
    }


@on_each_store
@pytest.mark.parametrize("target", ["existing", "missing"])
def test_token_for_one_account_cannot_touch_another(
    almanac: Almanac, account: TestAccount, target: str
) -> None:
    """PERMISSION_DENIED, whether or not the other account exists (no probing)."""
    other = (
        almanac.create_local_account().name if target == "existing" else (f"accounts/{unique_id()}")
    )
    token = account.token("calendars:admin")
    accounts, calendars = almanac.accounts(token), almanac.calendars(token)
    for label, call in _reads_of(other).items():
        err = expect_error(Code.PERMISSION_DENIED, lambda c=call: c(accounts, calendars))
        assert err.reason, label
    # Nothing was created in the other account.
    if target == "existing":
        listed = almanac.calendars().ListCalendars(cal_pb.ListCalendarsRequest(parent=other))
        assert [c.name for c in listed.calendars] == [f"{other}/calendars/primary"]


def test_read_only_token_cannot_write(almanac: Almanac, account: TestAccount) -> None:
    calendars = account.calendars("calendars:read")
    calendars.GetCalendar(cal_pb.GetCalendarRequest(name=account.primary))
    calendars.ListCalendars(cal_pb.ListCalendarsRequest(parent=account.name))
    writes: list[Callable[[], Any]] = [
        lambda: calendars.CreateCalendar(
            cal_pb.CreateCalendarRequest(
                parent=account.name, calendar=cal_pb.Calendar(display_name="x")
            )
        ),
        lambda: calendars.UpdateCalendar(
            cal_pb.UpdateCalendarRequest(
                calendar=cal_pb.Calendar(name=account.primary, display_name="x")
            )
        ),
        lambda: calendars.CreateSchedule(
            cal_pb.CreateScheduleRequest(
                parent=account.primary, schedule=cal_pb.Schedule(display_name="x")
            )
        ),
        lambda: calendars.DeleteCalendar(cal_pb.DeleteCalendarRequest(name=account.primary)),
    ]
    for call in writes:
        expect_error(Code.PERMISSION_DENIED, call)
    assert [c.name for c in account.list_calendars()] == [account.primary]
    primary = almanac.calendars().GetCalendar(cal_pb.GetCalendarRequest(name=account.primary))
    assert primary.display_name != "x"


def test_write_scope_cannot_delete_admin_scope_can(almanac: Almanac, account: TestAccount) -> None:
    writer = account.calendars("calendars:write")
    cal = writer.CreateCalendar(
        cal_pb.CreateCalendarRequest(
            parent=account.name, calendar=cal_pb.Calendar(display_name="w")
        )
    )
    schedule = writer.CreateSchedule(
        cal_pb.CreateScheduleRequest(parent=cal.name, schedule=cal_pb.Schedule(display_name="s"))
    )
    writer.UpdateCalendar(
        cal_pb.UpdateCalendarRequest(
            calendar=cal_pb.Calendar(name=cal.name, description="by writer")
        )
    )
    expect_error(
        Code.PERMISSION_DENIED,
        lambda: writer.DeleteSchedule(cal_pb.DeleteScheduleRequest(name=schedule.name)),
    )
    expect_error(
        Code.PERMISSION_DENIED,
        lambda: writer.DeleteCalendar(cal_pb.DeleteCalendarRequest(name=cal.name)),
    )
    writer.GetSchedule(cal_pb.GetScheduleRequest(name=schedule.name))
    admin = account.calendars("calendars:admin")
    admin.DeleteSchedule(cal_pb.DeleteScheduleRequest(name=schedule.name))
    admin.DeleteCalendar(cal_pb.DeleteCalendarRequest(name=cal.name))
    expect_error(
        Code.NOT_FOUND, lambda: admin.GetCalendar(cal_pb.GetCalendarRequest(name=cal.name))
    )


def test_other_area_scope_cannot_use_calendars(almanac: Almanac, account: TestAccount) -> None:
    calendars = account.calendars("contacts:admin", "resources:admin", "activity:read")
    expect_error(
        Code.PERMISSION_DENIED,
        lambda: calendars.GetCalendar(cal_pb.GetCalendarRequest(name=account.primary)),
    )
    # ListTimeZones and GetAccount need only a valid token.
    assert calendars.ListTimeZones(cal_pb.ListTimeZonesRequest(query="berlin")).time_zones
    token = account.token("contacts:read")
    almanac.accounts(token).GetAccount(acc_pb.GetAccountRequest(name=account.name))


def test_non_admin_token_cannot_manage_accounts_or_tokens(
    almanac: Almanac, account: TestAccount
) -> None:
    accounts = almanac.accounts(account.token("calendars:admin"))
    calls: list[Callable[[], Any]] = [
        lambda: accounts.CreateAccount(
            acc_pb.CreateAccountRequest(
                account=acc_pb.Account(connector=acc_pb.CONNECTOR_TYPE_LOCAL),
                account_id=unique_id(),
            )
        ),
        lambda: accounts.UpdateAccount(
            acc_pb.UpdateAccountRequest(
                account=acc_pb.Account(name=account.name, display_name="x"),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
            )
        ),
        lambda: accounts.DeleteAccount(acc_pb.DeleteAccountRequest(name=account.name)),
        lambda: accounts.CreateApiToken(
            acc_pb.CreateApiTokenRequest(api_token=acc_pb.ApiToken(scopes=["admin"]))
        ),
        lambda: accounts.ListApiTokens(acc_pb.ListApiTokensRequest()),
        lambda: accounts.RevokeApiToken(acc_pb.RevokeApiTokenRequest(name="apiTokens/abc")),
    ]
    for call in calls:
        expect_error(Code.PERMISSION_DENIED, call)
    got = almanac.accounts().GetAccount(acc_pb.GetAccountRequest(name=account.name))
    assert got.display_name == "E2E"


def test_admin_token_for_one_account_cannot_act_on_another(
    almanac: Almanac, account: TestAccount
) -> None:
    """`accounts` limits even an admin token: no acting on, or minting for, other accounts."""
    other = almanac.create_local_account()
    accounts = almanac.accounts(account.token("admin"))
    accounts.GetAccount(acc_pb.GetAccountRequest(name=account.name))
    expect_error(
        Code.PERMISSION_DENIED,
        lambda: accounts.GetAccount(acc_pb.GetAccountRequest(name=other.name)),
    )
    expect_error(
        Code.PERMISSION_DENIED,
        lambda: accounts.DeleteAccount(acc_pb.DeleteAccountRequest(name=other.name)),
    )
    expect_error(
        Code.PERMISSION_DENIED,
        lambda: accounts.CreateApiToken(
            acc_pb.CreateApiTokenRequest(
                api_token=acc_pb.ApiToken(scopes=["calendars:admin"], accounts=[other.name])
            )
        ),
    )
