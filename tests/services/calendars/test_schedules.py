"""CalendarService schedules: CRUD, defaults, update semantics, etags."""

from __future__ import annotations

import uuid

import grpc
from almanac.v1 import calendar_service_pb2 as cal_pb
from google.protobuf import field_mask_pb2
from google.type import date_pb2, dayofweek_pb2, timeofday_pb2

from tests.helpers import Almanac, TestAccount, expect_error, list_all, on_each_store

Code = grpc.StatusCode


def _t(hours: int, minutes: int = 0) -> timeofday_pb2.TimeOfDay:
    return timeofday_pb2.TimeOfDay(hours=hours, minutes=minutes)


def _weekday(day: int, start: int, end: int) -> cal_pb.WeeklyInterval:
    return cal_pb.WeeklyInterval(day=day, start_time=_t(start), end_time=_t(end))


def _office_hours() -> cal_pb.Schedule:
    return cal_pb.Schedule(
        display_name="Office hours",
        time_zone="Europe/Berlin",
        weekly_hours=[
            _weekday(d, 9, 17) for d in range(dayofweek_pb2.MONDAY, dayofweek_pb2.SATURDAY)
        ],
        date_overrides=[
            cal_pb.DateOverride(
                date=date_pb2.Date(year=2025, month=12, day=24),
                intervals=[cal_pb.LocalInterval(start_time=_t(9), end_time=_t(12))],
            ),
            cal_pb.DateOverride(date=date_pb2.Date(year=2025, month=12, day=25)),
        ],
        start_date=date_pb2.Date(year=2025, month=1, day=1),
        end_date=date_pb2.Date(year=2026, month=12, day=31),
    )


@on_each_store
def test_schedule_crud(almanac: Almanac, account: TestAccount) -> None:
    calendars = account.calendars()
    cal = account.create_calendar("Work", calendar_id="work")
    created = calendars.CreateSchedule(
        cal_pb.CreateScheduleRequest(
            parent=cal.name, schedule_id="office", schedule=_office_hours()
        )
    )
    assert created.name == f"{cal.name}/schedules/office"
    assert created.etag and created.HasField("create_time") and created.HasField("update_time")
    expected = _office_hours()
    for field in (
        "display_name",
        "time_zone",
        "weekly_hours",
        "date_overrides",
        "start_date",
        "end_date",
        "disabled",
    ):
        assert getattr(created, field) == getattr(expected, field), field

    assert calendars.GetSchedule(cal_pb.GetScheduleRequest(name=created.name)) == created
    second = calendars.CreateSchedule(
        cal_pb.CreateScheduleRequest(
            parent=cal.name, schedule=cal_pb.Schedule(display_name="Late shift", disabled=True)
        )
    )
    listed = calendars.ListSchedules(cal_pb.ListSchedulesRequest(parent=cal.name))
    assert list(listed.schedules) == [created, second]  # oldest first
    assert listed.total_size == 2

    updated = calendars.UpdateSchedule(
        cal_pb.UpdateScheduleRequest(
            schedule=cal_pb.Schedule(
                name=created.name,
                display_name="Core hours",
                weekly_hours=[_weekday(dayofweek_pb2.FRIDAY, 10, 14)],
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name", "weekly_hours"]),
        )
    )
    assert updated.display_name == "Core hours"
    # Replacing weekly_hours replaces the whole list.
    assert list(updated.weekly_hours) == [_weekday(dayofweek_pb2.FRIDAY, 10, 14)]
    assert list(updated.date_overrides) == list(expected.date_overrides)
    assert updated.etag != created.etag
    assert calendars.GetSchedule(cal_pb.GetScheduleRequest(name=created.name)) == updated

    calendars.DeleteSchedule(cal_pb.DeleteScheduleRequest(name=created.name))
    expect_error(
        Code.NOT_FOUND, lambda: calendars.GetSchedule(cal_pb.GetScheduleRequest(name=created.name))
    )
    listed = calendars.ListSchedules(cal_pb.ListSchedulesRequest(parent=cal.name))
    assert list(listed.schedules) == [second]


def test_schedule_time_zone_defaults_to_calendar_zone(
    almanac: Almanac, account: TestAccount
) -> None:
    cal = account.create_calendar("Sydney", time_zone="Australia/Sydney")
    schedule = almanac.calendars().CreateSchedule(
        cal_pb.CreateScheduleRequest(parent=cal.name, schedule=cal_pb.Schedule(display_name="S"))
    )
    assert schedule.time_zone == "Australia/Sydney"


def test_end_of_day_is_allowed(almanac: Almanac, account: TestAccount) -> None:
    schedule = almanac.calendars().CreateSchedule(
        cal_pb.CreateScheduleRequest(
            parent=account.primary,
            schedule=cal_pb.Schedule(
                display_name="Evening",
                weekly_hours=[
                    cal_pb.WeeklyInterval(
                        day=dayofweek_pb2.SUNDAY, start_time=_t(18), end_time=_t(24)
                    )
                ],
            ),
        )
    )
    assert schedule.weekly_hours[0].end_time == _t(24)


def test_update_schedule_without_mask_and_with_star(almanac: Almanac, account: TestAccount) -> None:
    calendars = almanac.calendars()
    created = calendars.CreateSchedule(
        cal_pb.CreateScheduleRequest(parent=account.primary, schedule=_office_hours())
    )
    partial = calendars.UpdateSchedule(
        cal_pb.UpdateScheduleRequest(
            schedule=cal_pb.Schedule(name=created.name, time_zone="America/Chicago")
        )
    )
    assert partial.time_zone == "America/Chicago"
    assert partial.display_name == "Office hours"
    assert list(partial.weekly_hours) == list(created.weekly_hours)
    replaced = calendars.UpdateSchedule(
        cal_pb.UpdateScheduleRequest(
            schedule=cal_pb.Schedule(name=created.name, display_name="Bare"),
            update_mask=field_mask_pb2.FieldMask(paths=["*"]),
        )
    )
    assert replaced.display_name == "Bare"
    assert not replaced.weekly_hours and not replaced.date_overrides
    assert not replaced.HasField("start_date") and not replaced.HasField("end_date")
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: calendars.UpdateSchedule(
            cal_pb.UpdateScheduleRequest(
                schedule=cal_pb.Schedule(name=created.name, disabled=True),
                update_mask=field_mask_pb2.FieldMask(paths=["holidays"]),
            )
        ),
    )
    assert err.fields == {"update_mask"}
    assert calendars.GetSchedule(cal_pb.GetScheduleRequest(name=created.name)) == replaced


@on_each_store
def test_schedule_etag(almanac: Almanac, account: TestAccount) -> None:
    calendars = almanac.calendars()
    v1 = calendars.CreateSchedule(
        cal_pb.CreateScheduleRequest(
            parent=account.primary, schedule=cal_pb.Schedule(display_name="v1")
        )
    )
    v2 = calendars.UpdateSchedule(
        cal_pb.UpdateScheduleRequest(
            schedule=cal_pb.Schedule(name=v1.name, display_name="v2", etag=v1.etag)
        )
    )
    assert v2.etag != v1.etag
    expect_error(
        Code.ABORTED,
        lambda: calendars.UpdateSchedule(
            cal_pb.UpdateScheduleRequest(
                schedule=cal_pb.Schedule(name=v1.name, display_name="lost", etag=v1.etag)
            )
        ),
    )
    expect_error(
        Code.ABORTED,
        lambda: calendars.DeleteSchedule(cal_pb.DeleteScheduleRequest(name=v1.name, etag=v1.etag)),
    )
    assert calendars.GetSchedule(cal_pb.GetScheduleRequest(name=v1.name)) == v2
    calendars.DeleteSchedule(cal_pb.DeleteScheduleRequest(name=v1.name, etag=v2.etag))
    expect_error(
        Code.NOT_FOUND, lambda: calendars.GetSchedule(cal_pb.GetScheduleRequest(name=v1.name))
    )


def test_create_schedule_request_id(almanac: Almanac, account: TestAccount) -> None:
    calendars = almanac.calendars()
    request = cal_pb.CreateScheduleRequest(
        parent=account.primary,
        request_id=str(uuid.uuid4()),
        schedule=cal_pb.Schedule(display_name="Once"),
    )
    first = calendars.CreateSchedule(request)
    assert calendars.CreateSchedule(request) == first
    listed = list_all(
        calendars.ListSchedules, cal_pb.ListSchedulesRequest(parent=account.primary), "schedules"
    )
    assert [s.name for s in listed] == [first.name]


def test_duplicate_schedule_id_is_already_exists(almanac: Almanac, account: TestAccount) -> None:
    calendars = almanac.calendars()
    request = cal_pb.CreateScheduleRequest(
        parent=account.primary, schedule_id="same", schedule=cal_pb.Schedule(display_name="A")
    )
    calendars.CreateSchedule(request)
    request.schedule.display_name = "B"
    expect_error(Code.ALREADY_EXISTS, lambda: calendars.CreateSchedule(request))


def test_schedule_not_found(almanac: Almanac, account: TestAccount) -> None:
    calendars = almanac.calendars()
    missing = f"{account.primary}/schedules/missing"
    no_cal = account.calendar_name("nocal")
    expect_error(
        Code.NOT_FOUND, lambda: calendars.GetSchedule(cal_pb.GetScheduleRequest(name=missing))
    )
    expect_error(
        Code.NOT_FOUND,
        lambda: calendars.UpdateSchedule(
            cal_pb.UpdateScheduleRequest(schedule=cal_pb.Schedule(name=missing, display_name="x"))
        ),
    )
    expect_error(
        Code.NOT_FOUND, lambda: calendars.DeleteSchedule(cal_pb.DeleteScheduleRequest(name=missing))
    )
    expect_error(
        Code.NOT_FOUND, lambda: calendars.ListSchedules(cal_pb.ListSchedulesRequest(parent=no_cal))
    )
    for schedule in (
        cal_pb.Schedule(display_name="x"),
        cal_pb.Schedule(display_name="x", time_zone="UTC"),
    ):
        expect_error(
            Code.NOT_FOUND,
            lambda s=schedule: calendars.CreateSchedule(
                cal_pb.CreateScheduleRequest(parent=no_cal, schedule=s)
            ),
        )
    expect_error(
        Code.NOT_FOUND,
        lambda: calendars.GetSchedule(cal_pb.GetScheduleRequest(name=f"{no_cal}/schedules/s")),
    )
