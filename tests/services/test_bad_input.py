"""Bad input: INVALID_ARGUMENT naming every bad field, and nothing written.

Each case builds one request for a fresh account and names the exact set of
field paths its BadRequest must list. After the call, the account's
calendars and schedules, the account itself, the account list and the token
list must be exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from google.protobuf import duration_pb2, field_mask_pb2
from google.type import date_pb2, dayofweek_pb2, timeofday_pb2

from tests.helpers import TestAccount, expect_error, list_all, on_each_store

Code = grpc.StatusCode
Case = Callable[[TestAccount], Callable[[], Any]]
NOT_UUID = "not-a-uuid"
LONG = "x" * 257
MON = dayofweek_pb2.MONDAY


def _t(hours: int, minutes: int = 0, seconds: int = 0) -> timeofday_pb2.TimeOfDay:
    return timeofday_pb2.TimeOfDay(hours=hours, minutes=minutes, seconds=seconds)


def _mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


def create_calendar(calendar: cal_pb.Calendar, parent: str = "", **request: Any) -> Case:
    return lambda a: (
        lambda: a.almanac.calendars().CreateCalendar(
            cal_pb.CreateCalendarRequest(parent=parent or a.name, calendar=calendar, **request)
        )
    )


def create_schedule(schedule: cal_pb.Schedule, **request: Any) -> Case:
    return lambda a: (
        lambda: a.almanac.calendars().CreateSchedule(
            cal_pb.CreateScheduleRequest(parent=a.primary, schedule=schedule, **request)
        )
    )


def update_calendar(mask: tuple[str, ...] = (), **fields: Any) -> Case:
    return lambda a: (
        lambda: a.almanac.calendars().UpdateCalendar(
            cal_pb.UpdateCalendarRequest(
                calendar=cal_pb.Calendar(name=a.primary, **fields),
                update_mask=_mask(*mask) if mask else None,
            )
        )
    )


def update_schedule(mask: tuple[str, ...] = (), **fields: Any) -> Case:
    def build(a: TestAccount) -> Callable[[], Any]:
        stub = a.almanac.calendars()
        name = f"{a.primary}/schedules/base"
        return lambda: stub.UpdateSchedule(
            cal_pb.UpdateScheduleRequest(
                schedule=cal_pb.Schedule(name=name, **fields),
                update_mask=_mask(*mask) if mask else None,
            )
        )

    return build


def create_account(account: acc_pb.Account | None = None, **request: Any) -> Case:
    if account is None:
        account = acc_pb.Account(connector=acc_pb.CONNECTOR_TYPE_LOCAL)
    return lambda a: (
        lambda: a.almanac.accounts().CreateAccount(
            acc_pb.CreateAccountRequest(account=account, **request)
        )
    )


def update_account(mask: tuple[str, ...] = (), **fields: Any) -> Case:
    return lambda a: (
        lambda: a.almanac.accounts().UpdateAccount(
            acc_pb.UpdateAccountRequest(
                account=acc_pb.Account(name=a.name, **fields),
                update_mask=_mask(*mask) if mask else None,
            )
        )
    )


def create_token(
    scopes: list[str], accounts: list[str] | None = None, display_name: str = "", **request: Any
) -> Case:
    return lambda a: (
        lambda: a.almanac.accounts().CreateApiToken(
            acc_pb.CreateApiTokenRequest(
                api_token=acc_pb.ApiToken(
                    scopes=scopes,
                    display_name=display_name,
                    accounts=[a.name] if accounts is None else accounts,
                ),
                **request,
            )
        )
    )


def _caldav(**settings: str) -> acc_pb.Account:
    return acc_pb.Account(
        connector=acc_pb.CONNECTOR_TYPE_CALDAV,
        settings=acc_pb.ConnectorSettings(caldav=acc_pb.CalDavSettings(**settings)),
    )


def _weekly(
    day: int = MON,
    start: timeofday_pb2.TimeOfDay | None = None,
    end: timeofday_pb2.TimeOfDay | None = None,
) -> cal_pb.WeeklyInterval:
    return cal_pb.WeeklyInterval(day=day, start_time=start or _t(9), end_time=end or _t(17))


def _date(y: int, m: int, d: int) -> date_pb2.Date:
    return date_pb2.Date(year=y, month=m, day=d)


OK_CAL = cal_pb.Calendar(display_name="ok")
OK_SCHEDULE = cal_pb.Schedule(display_name="ok")

CASES: dict[str, tuple[Case, set[str]]] = {
    # -- CreateCalendar
    "calendar display_name missing": (
        create_calendar(cal_pb.Calendar()),
        {"calendar.display_name"},
    ),
    "calendar display_name blank": (
        create_calendar(cal_pb.Calendar(display_name="  ")),
        {"calendar.display_name"},
    ),
    "calendar display_name too long": (
        create_calendar(cal_pb.Calendar(display_name=LONG)),
        {"calendar.display_name"},
    ),
    "calendar description too long": (
        create_calendar(cal_pb.Calendar(display_name="d", description="x" * 8193)),
        {"calendar.description"},
    ),
    "calendar location too long": (
        create_calendar(cal_pb.Calendar(display_name="d", location="x" * 1025)),
        {"calendar.location"},
    ),
    "calendar bad time zone": (
        create_calendar(cal_pb.Calendar(display_name="d", time_zone="Mars/Olympus_Mons")),
        {"calendar.time_zone"},
    ),
    "calendar bad colour": (
        create_calendar(cal_pb.Calendar(display_name="d", color="red")),
        {"calendar.color"},
    ),
    "calendar short colour": (
        create_calendar(cal_pb.Calendar(display_name="d", color="#12345")),
        {"calendar.color"},
    ),
    "bad calendar_id": (create_calendar(OK_CAL, calendar_id="Not_Lower"), {"calendar_id"}),
    "calendar_id starting with dash": (create_calendar(OK_CAL, calendar_id="-x"), {"calendar_id"}),
    "reserved calendar_id primary": (
        create_calendar(OK_CAL, calendar_id="primary"),
        {"calendar_id"},
    ),
    "calendar request_id not a UUID": (
        create_calendar(OK_CAL, request_id=NOT_UUID),
        {"request_id"},
    ),
    "calendar bad parent": (create_calendar(OK_CAL, parent="users/someone"), {"parent"}),
    "event type without id and with bad colour": (
        create_calendar(
            cal_pb.Calendar(
                display_name="d",
                event_types=[cal_pb.EventType(display_name="Holidays", color="green")],
            )
        ),
        {"calendar.event_types[0].id", "calendar.event_types[0].color"},
    ),
    "duplicate event type id": (
        create_calendar(
            cal_pb.Calendar(
                display_name="d",
                event_types=[
                    cal_pb.EventType(id="a", display_name="A"),
                    cal_pb.EventType(id="a", display_name="B"),
                ],
            )
        ),
        {"calendar.event_types[1].id"},
    ),
    "reminder not whole minutes or too far": (
        create_calendar(
            cal_pb.Calendar(
                display_name="d",
                default_reminders=[
                    cal_pb.DefaultReminder(before_start=duration_pb2.Duration(seconds=90)),
                    cal_pb.DefaultReminder(
                        before_start=duration_pb2.Duration(seconds=5 * 7 * 86400)
                    ),
                ],
            )
        ),
        {
            "calendar.default_reminders[0].before_start",
            "calendar.default_reminders[1].before_start",
        },
    ),
    "calendar: every bad field named": (
        create_calendar(
            cal_pb.Calendar(
                display_name=LONG, time_zone="Nowhere/Void", color="#GGGGGG", location="x" * 1025
            ),
            calendar_id="Bad!",
            request_id="123",
        ),
        {
            "calendar.display_name",
            "calendar.time_zone",
            "calendar.color",
            "calendar.location",
            "calendar_id",
            "request_id",
        },
    ),
    # -- CreateSchedule
    "schedule display_name missing": (
        create_schedule(cal_pb.Schedule()),
        {"schedule.display_name"},
    ),
    "schedule interval end before start": (
        create_schedule(
            cal_pb.Schedule(display_name="s", weekly_hours=[_weekly(start=_t(17), end=_t(9))])
        ),
        {"schedule.weekly_hours[0].end_time"},
    ),
    "schedule interval end equals start": (
        create_schedule(
            cal_pb.Schedule(
                display_name="s", weekly_hours=[_weekly(), _weekly(start=_t(12), end=_t(12))]
            )
        ),
        {"schedule.weekly_hours[1].end_time"},
    ),
    "schedule weekday unspecified": (
        create_schedule(
            cal_pb.Schedule(
                display_name="s", weekly_hours=[_weekly(day=dayofweek_pb2.DAY_OF_WEEK_UNSPECIFIED)]
            )
        ),
        {"schedule.weekly_hours[0].day"},
    ),
    "schedule time not whole minutes": (
        create_schedule(
            cal_pb.Schedule(display_name="s", weekly_hours=[_weekly(start=_t(9, 0, 30))])
        ),
        {"schedule.weekly_hours[0].start_time"},
    ),
    "schedule bad override date and interval": (
        create_schedule(
            cal_pb.Schedule(
                display_name="s",
                date_overrides=[
                    cal_pb.DateOverride(date=_date(2025, 2, 30)),
                    cal_pb.DateOverride(
                        date=_date(2025, 3, 1),
                        intervals=[cal_pb.LocalInterval(start_time=_t(14), end_time=_t(10))],
                    ),
                ],
            )
        ),
        {"schedule.date_overrides[0].date", "schedule.date_overrides[1].intervals[0].end_time"},
    ),
    "schedule bad start_date": (
        create_schedule(cal_pb.Schedule(display_name="s", start_date=_date(2025, 13, 1))),
        {"schedule.start_date"},
    ),
    "schedule end_date before start_date": (
        create_schedule(
            cal_pb.Schedule(
                display_name="s", start_date=_date(2025, 6, 1), end_date=_date(2025, 5, 31)
            )
        ),
        {"schedule.end_date"},
    ),
    "schedule bad time zone": (
        create_schedule(cal_pb.Schedule(display_name="s", time_zone="Europe/Atlantis")),
        {"schedule.time_zone"},
    ),
    "bad schedule_id": (create_schedule(OK_SCHEDULE, schedule_id="UPPER"), {"schedule_id"}),
    "schedule request_id not a UUID": (
        create_schedule(OK_SCHEDULE, request_id=NOT_UUID),
        {"request_id"},
    ),
    "schedule: every bad field named": (
        create_schedule(
            cal_pb.Schedule(
                time_zone="X/Y",
                weekly_hours=[
                    _weekly(day=dayofweek_pb2.DAY_OF_WEEK_UNSPECIFIED),
                    _weekly(start=_t(10), end=_t(8)),
                ],
                end_date=_date(2025, 2, 29),
            ),
            schedule_id="Bad",
            request_id=NOT_UUID,
        ),
        {
            "schedule.display_name",
            "schedule.time_zone",
            "schedule.weekly_hours[0].day",
            "schedule.weekly_hours[1].end_time",
            "schedule.end_date",
            "schedule_id",
            "request_id",
        },
    ),
    # -- UpdateCalendar / UpdateSchedule
    "calendar update unknown mask path": (
        update_calendar(("description", "nickname"), description="d"),
        {"update_mask"},
    ),
    "calendar update nested mask path": (update_calendar(("event_types.color",)), {"update_mask"}),
    "calendar update display_name cleared": (
        update_calendar(("display_name",)),
        {"calendar.display_name"},
    ),
    "calendar update: every bad field named": (
        update_calendar(("color", "time_zone", "bogus"), color="blue", time_zone="Bad/Zone"),
        {"calendar.color", "calendar.time_zone", "update_mask"},
    ),
    "schedule update bad interval and mask": (
        update_schedule(("weekly_hours", "bogus"), weekly_hours=[_weekly(start=_t(9), end=_t(8))]),
        {"schedule.weekly_hours[0].end_time", "update_mask"},
    ),
    # -- CreateAccount / UpdateAccount
    "account connector missing": (
        create_account(acc_pb.Account(display_name="a")),
        {"account.connector"},
    ),
    "account display_name too long": (
        create_account(acc_pb.Account(connector=acc_pb.CONNECTOR_TYPE_LOCAL, display_name=LONG)),
        {"account.display_name"},
    ),
    "account bad default time zone": (
        create_account(
            acc_pb.Account(connector=acc_pb.CONNECTOR_TYPE_LOCAL, default_time_zone="Utc/Nope")
        ),
        {"account.default_time_zone"},
    ),
    "bad account_id": (create_account(account_id="1starts-with-digit"), {"account_id"}),
    "reserved account_id me": (create_account(account_id="me"), {"account_id"}),
    "account request_id not a UUID": (create_account(request_id=NOT_UUID), {"request_id"}),
    "account settings for another connector": (
        create_account(
            acc_pb.Account(
                connector=acc_pb.CONNECTOR_TYPE_LOCAL,
                settings=_caldav(url="https://x.example/").settings,
            )
        ),
        {"account.settings"},
    ),
    "caldav without url": (create_account(_caldav(username="u")), {"account.settings.caldav.url"}),
    "caldav url not http": (
        create_account(_caldav(url="ftp://dav.example/")),
        {"account.settings.caldav.url"},
    ),
    "account: every bad field named": (
        create_account(
            acc_pb.Account(
                connector=acc_pb.CONNECTOR_TYPE_LOCAL,
                display_name=LONG,
                default_time_zone="Bad/Zone",
            ),
            account_id="Bad_Id",
            request_id=NOT_UUID,
        ),
        {"account.display_name", "account.default_time_zone", "account_id", "request_id"},
    ),
    "account update: every bad field named": (
        update_account(
            ("display_name", "default_time_zone", "owner"),
            display_name=LONG,
            default_time_zone="Bad/Zone",
        ),
        {"account.display_name", "account.default_time_zone", "update_mask"},
    ),
    # -- CreateApiToken
    "token without scopes": (create_token([]), {"api_token.scopes"}),
    "token unknown scope": (
        create_token(["calendars:read", "calendars:own"]),
        {"api_token.scopes[1]"},
    ),
    "non-admin token for every account": (
        create_token(["calendars:read"], accounts=[]),
        {"api_token.accounts"},
    ),
    "token bad account names": (
        create_token(["calendars:read"], accounts=["acct/x", "accounts/me"]),
        {"api_token.accounts[0]", "api_token.accounts[1]"},
    ),
    "token request_id not a UUID": (
        create_token(["calendars:read"], request_id=NOT_UUID),
        {"request_id"},
    ),
    "token: every bad field named": (
        create_token(["nope"], accounts=[], display_name=LONG, request_id=NOT_UUID),
        {"api_token.scopes[0]", "api_token.accounts", "api_token.display_name", "request_id"},
    ),
}


def _snapshot(a: TestAccount) -> tuple[Any, ...]:
    cal = a.almanac.calendars()
    calendars = [(c.name, c.etag) for c in a.list_calendars()]
    schedules = [
        (s.name, s.etag)
        for s in list_all(
            cal.ListSchedules, cal_pb.ListSchedulesRequest(parent=a.primary), "schedules"
        )
    ]
    account = a.almanac.accounts().GetAccount(acc_pb.GetAccountRequest(name=a.name)).etag
    accounts = {
        x.name
        for x in list_all(
            a.almanac.accounts().ListAccounts,
            acc_pb.ListAccountsRequest(page_size=1000),
            "accounts",
        )
    }
    tokens = {
        t.name
        for t in list_all(
            a.almanac.accounts().ListApiTokens,
            acc_pb.ListApiTokensRequest(page_size=1000),
            "api_tokens",
        )
    }
    return calendars, schedules, account, accounts, tokens


def _check_bad_input(account: TestAccount, case: Case, fields: set[str]) -> None:
    account.almanac.calendars().CreateSchedule(
        cal_pb.CreateScheduleRequest(
            parent=account.primary, schedule_id="base", schedule=cal_pb.Schedule(display_name="b")
        )
    )
    before = _snapshot(account)
    err = expect_error(Code.INVALID_ARGUMENT, case(account))
    assert err.fields == fields, [
        (v.field, v.description) for v in err.bad_request.field_violations
    ]
    assert all(v.description for v in err.bad_request.field_violations)
    assert _snapshot(account) == before, "a rejected request changed something"


@pytest.mark.parametrize("label", list(CASES))
def test_bad_input(account: TestAccount, label: str) -> None:
    case, fields = CASES[label]
    _check_bad_input(account, case, fields)


@on_each_store
@pytest.mark.parametrize(
    "label", ["calendar: every bad field named", "schedule: every bad field named"]
)
def test_bad_input_on_each_store(account: TestAccount, label: str) -> None:
    case, fields = CASES[label]
    _check_bad_input(account, case, fields)
