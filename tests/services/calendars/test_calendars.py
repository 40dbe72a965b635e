"""CalendarService calendars: CRUD, aliases, etags, request ids, update masks."""

from __future__ import annotations

import uuid

import grpc
import pytest
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from google.protobuf import duration_pb2, field_mask_pb2, struct_pb2

from tests.helpers import Almanac, TestAccount, expect_error, on_each_store, race

Code = grpc.StatusCode


def _mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


def _full_calendar() -> cal_pb.Calendar:
    raw = struct_pb2.Struct()
    raw.update({"object": {"colorId": "7"}})
    return cal_pb.Calendar(
        display_name="Team",
        description="Shared team calendar",
        location="Berlin",
        time_zone="Europe/Berlin",
        color="#4E9075",
        event_types=[cal_pb.EventType(id="holiday", display_name="Holidays", color="#112233")],
        default_reminders=[
            cal_pb.DefaultReminder(
                before_start=duration_pb2.Duration(seconds=600),
                method=common_pb2.REMINDER_METHOD_EMAIL,
            )
        ],
        raw=raw,
    )


@on_each_store
def test_calendar_crud(almanac: Almanac, account: TestAccount) -> None:
    calendars = account.calendars()
    created = calendars.CreateCalendar(
        cal_pb.CreateCalendarRequest(
            parent=account.name, calendar_id="team", calendar=_full_calendar()
        )
    )
    assert created.name == account.calendar_name("team")
    assert not created.primary
    assert created.etag and created.HasField("create_time") and created.HasField("update_time")
    expected = _full_calendar()
    for field in (
        "display_name",
        "description",
        "location",
        "time_zone",
        "color",
        "event_types",
        "default_reminders",
    ):
        assert getattr(created, field) == getattr(expected, field), field

    got = calendars.GetCalendar(cal_pb.GetCalendarRequest(name=created.name, include_raw=True))
    assert got == created
    listed = calendars.ListCalendars(cal_pb.ListCalendarsRequest(parent=account.name))
    assert [c.name for c in listed.calendars] == [account.primary, created.name]
    assert listed.total_size == 2

    updated = calendars.UpdateCalendar(
        cal_pb.UpdateCalendarRequest(
            calendar=cal_pb.Calendar(
                name=created.name, display_name="Team (renamed)", color="#000000"
            ),
            update_mask=_mask("display_name", "color"),
        )
    )
    assert (updated.display_name, updated.color) == ("Team (renamed)", "#000000")
    assert updated.description == "Shared team calendar"
    assert calendars.GetCalendar(cal_pb.GetCalendarRequest(name=created.name)) == updated

    calendars.DeleteCalendar(cal_pb.DeleteCalendarRequest(name=created.name))
    expect_error(
        Code.NOT_FOUND, lambda: calendars.GetCalendar(cal_pb.GetCalendarRequest(name=created.name))
    )
    assert [c.name for c in account.list_calendars()] == [account.primary]


def test_raw_only_when_asked(almanac: Almanac, account: TestAccount) -> None:
    calendars = almanac.calendars()
    created = account.create_calendar("Raw", raw=_full_calendar().raw)
    assert created.raw == _full_calendar().raw
    plain = calendars.GetCalendar(cal_pb.GetCalendarRequest(name=created.name))
    assert not plain.HasField("raw")
    with_raw = calendars.GetCalendar(cal_pb.GetCalendarRequest(name=created.name, include_raw=True))
    assert with_raw.raw == _full_calendar().raw
    listed = calendars.ListCalendars(cal_pb.ListCalendarsRequest(parent=account.name))
    assert not any(c.HasField("raw") for c in listed.calendars)
    listed = calendars.ListCalendars(
        cal_pb.ListCalendarsRequest(parent=account.name, include_raw=True)
    )
    assert [c.raw for c in listed.calendars if c.name == created.name] == [with_raw.raw]


def test_calendar_time_zone_defaults_to_account_zone(almanac: Almanac) -> None:
    account = TestAccount(almanac, almanac.create_local_account(default_time_zone="Asia/Tokyo"))
    created = account.create_calendar("No zone")
    assert created.time_zone == "Asia/Tokyo"


def test_me_and_primary_aliases(almanac: Almanac, account: TestAccount) -> None:
    calendars = account.calendars()
    primary = calendars.GetCalendar(cal_pb.GetCalendarRequest(name="accounts/me/calendars/primary"))
    assert primary.name == account.primary
    assert primary.primary
    via_id = calendars.GetCalendar(cal_pb.GetCalendarRequest(name=account.primary))
    assert via_id == primary
    created = calendars.CreateCalendar(
        cal_pb.CreateCalendarRequest(
            parent="accounts/me", calendar_id="mine", calendar=cal_pb.Calendar(display_name="Mine")
        )
    )
    assert created.name == account.calendar_name("mine")
    listed = calendars.ListCalendars(cal_pb.ListCalendarsRequest(parent="accounts/me"))
    assert [c.name for c in listed.calendars] == [account.primary, created.name]
    updated = calendars.UpdateCalendar(
        cal_pb.UpdateCalendarRequest(
            calendar=cal_pb.Calendar(name="accounts/me/calendars/primary", description="alias")
        )
    )
    assert updated.name == account.primary and updated.description == "alias"
    schedule = calendars.CreateSchedule(
        cal_pb.CreateScheduleRequest(
            parent="accounts/me/calendars/primary", schedule=cal_pb.Schedule(display_name="S")
        )
    )
    assert schedule.name.startswith(account.primary + "/schedules/")
    # With a token for several accounts `me` is ambiguous.
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: almanac.calendars().GetCalendar(
            cal_pb.GetCalendarRequest(name="accounts/me/calendars/primary")
        ),
    )
    assert err.fields == {"name"}


def test_include_schedules(almanac: Almanac, account: TestAccount) -> None:
    calendars = almanac.calendars()
    cal = account.create_calendar("With schedules")
    s1 = calendars.CreateSchedule(
        cal_pb.CreateScheduleRequest(
            parent=cal.name, schedule_id="s1", schedule=cal_pb.Schedule(display_name="One")
        )
    )
    s2 = calendars.CreateSchedule(
        cal_pb.CreateScheduleRequest(
            parent=cal.name, schedule_id="s2", schedule=cal_pb.Schedule(display_name="Two")
        )
    )
    plain = calendars.GetCalendar(cal_pb.GetCalendarRequest(name=cal.name))
    assert not plain.schedules
    full = calendars.GetCalendar(cal_pb.GetCalendarRequest(name=cal.name, include_schedules=True))
    assert list(full.schedules) == [s1, s2]
    listed = calendars.ListCalendars(
        cal_pb.ListCalendarsRequest(parent=account.name, include_schedules=True)
    )
    by_name = {c.name: list(c.schedules) for c in listed.calendars}
    assert by_name == {account.primary: [], cal.name: [s1, s2]}
    listed = calendars.ListCalendars(cal_pb.ListCalendarsRequest(parent=account.name))
    assert not any(c.schedules for c in listed.calendars)


def test_duplicate_calendar_id_is_already_exists(almanac: Almanac, account: TestAccount) -> None:
    account.create_calendar("First", calendar_id="dup")
    expect_error(Code.ALREADY_EXISTS, lambda: account.create_calendar("Second", calendar_id="dup"))
    got = almanac.calendars().GetCalendar(
        cal_pb.GetCalendarRequest(name=account.calendar_name("dup"))
    )
    assert got.display_name == "First"


def test_primary_calendar_cannot_be_deleted(almanac: Almanac, account: TestAccount) -> None:
    calendars = almanac.calendars()
    for name in (account.primary, "accounts/me/calendars/primary"):
        stub = account.calendars() if "/me/" in name else calendars
        expect_error(
            Code.FAILED_PRECONDITION,
            lambda n=name, s=stub: s.DeleteCalendar(cal_pb.DeleteCalendarRequest(name=n)),
        )
    assert calendars.GetCalendar(cal_pb.GetCalendarRequest(name=account.primary)).primary


def test_calendar_not_found(almanac: Almanac, account: TestAccount) -> None:
    calendars = almanac.calendars()
    missing = account.calendar_name("missing")
    expect_error(
        Code.NOT_FOUND, lambda: calendars.GetCalendar(cal_pb.GetCalendarRequest(name=missing))
    )
    expect_error(
        Code.NOT_FOUND,
        lambda: calendars.UpdateCalendar(
            cal_pb.UpdateCalendarRequest(calendar=cal_pb.Calendar(name=missing, display_name="x"))
        ),
    )
    expect_error(
        Code.NOT_FOUND, lambda: calendars.DeleteCalendar(cal_pb.DeleteCalendarRequest(name=missing))
    )
    expect_error(
        Code.NOT_FOUND, lambda: calendars.ExportCalendar(cal_pb.ExportCalendarRequest(name=missing))
    )
    expect_error(
        Code.NOT_FOUND,
        lambda: calendars.ListCalendars(
            cal_pb.ListCalendarsRequest(parent="accounts/t-no-such-account")
        ),
    )
    expect_error(
        Code.NOT_FOUND,
        lambda: calendars.CreateCalendar(
            cal_pb.CreateCalendarRequest(
                parent="accounts/t-no-such-account", calendar=cal_pb.Calendar(display_name="x")
            )
        ),
    )


# --- etags ------------------------------------------------------------------------


@on_each_store
def test_calendar_etag(almanac: Almanac, account: TestAccount) -> None:
    calendars = almanac.calendars()
    v1 = account.create_calendar("v1")
    v2 = calendars.UpdateCalendar(
        cal_pb.UpdateCalendarRequest(
            calendar=cal_pb.Calendar(name=v1.name, display_name="v2", etag=v1.etag)
        )
    )
    v3 = calendars.UpdateCalendar(
        cal_pb.UpdateCalendarRequest(calendar=cal_pb.Calendar(name=v1.name, description="v3"))
    )
    assert len({v1.etag, v2.etag, v3.etag}) == 3, "the etag must change on every update"
    for stale in (v1.etag, v2.etag):
        expect_error(
            Code.ABORTED,
            lambda e=stale: calendars.UpdateCalendar(
                cal_pb.UpdateCalendarRequest(
                    calendar=cal_pb.Calendar(name=v1.name, display_name="lost", etag=e)
                )
            ),
        )
        expect_error(
            Code.ABORTED,
            lambda e=stale: calendars.DeleteCalendar(
                cal_pb.DeleteCalendarRequest(name=v1.name, etag=e)
            ),
        )
    current = calendars.GetCalendar(cal_pb.GetCalendarRequest(name=v1.name))
    assert current == v3
    calendars.DeleteCalendar(cal_pb.DeleteCalendarRequest(name=v1.name, etag=v3.etag))
    expect_error(
        Code.NOT_FOUND, lambda: calendars.GetCalendar(cal_pb.GetCalendarRequest(name=v1.name))
    )


# --- request ids ------------------------------------------------------------------


@on_each_store
def test_create_calendar_request_id(almanac: Almanac, account: TestAccount) -> None:
    calendars = account.calendars()
    request = cal_pb.CreateCalendarRequest(
        parent=account.name,
        calendar=cal_pb.Calendar(display_name="Once"),
        request_id=str(uuid.uuid4()),
    )
    first = calendars.CreateCalendar(request)
    retry = calendars.CreateCalendar(request)
    assert retry.name == first.name
    assert retry == first
    assert [c.name for c in account.list_calendars()] == [account.primary, first.name]
    changed = cal_pb.CreateCalendarRequest()
    changed.CopyFrom(request)
    changed.calendar.display_name = "Twice"
    err = expect_error(Code.INVALID_ARGUMENT, lambda: calendars.CreateCalendar(changed))
    assert err.fields == {"request_id"}
    assert [c.name for c in account.list_calendars()] == [account.primary, first.name]


@pytest.mark.parametrize("calendar_id", ["", "chosen"], ids=["generated-id", "given-id"])
def test_concurrent_retries_of_create_calendar_return_one_calendar(
    almanac: Almanac, account: TestAccount, calendar_id: str
) -> None:
    """Retries racing the first attempt still get its result (not ALREADY_EXISTS)."""
    calendars = almanac.calendars()
    request = cal_pb.CreateCalendarRequest(
        parent=account.name,
        calendar_id=calendar_id,
        request_id=str(uuid.uuid4()),
        calendar=cal_pb.Calendar(display_name="Raced"),
    )

    calendars.GetCalendar(cal_pb.GetCalendarRequest(name=account.primary))  # connect first
    results = race(12, lambda: calendars.CreateCalendar(request))
    assert len(set(results)) == 1, results
    assert results[0].startswith(account.name + "/calendars/"), results[0]
    assert [c.name for c in account.list_calendars()] == [account.primary, results[0]]


# --- update semantics -------------------------------------------------------------


def test_update_mask_limits_changes(almanac: Almanac, account: TestAccount) -> None:
    cal = account.create_calendar(display_name="Keep", description="d", color="#111111")
    updated = almanac.calendars().UpdateCalendar(
        cal_pb.UpdateCalendarRequest(
            calendar=cal_pb.Calendar(
                name=cal.name, display_name="Ignored", description="new", color="#222222"
            ),
            update_mask=_mask("description"),
        )
    )
    assert (updated.display_name, updated.description, updated.color) == ("Keep", "new", "#111111")


def test_update_without_mask_changes_only_set_fields(
    almanac: Almanac, account: TestAccount
) -> None:
    cal = account.create_calendar(
        "Name", description="desc", location="loc", time_zone="Europe/Paris"
    )
    updated = almanac.calendars().UpdateCalendar(
        cal_pb.UpdateCalendarRequest(calendar=cal_pb.Calendar(name=cal.name, location="elsewhere"))
    )
    assert updated.location == "elsewhere"
    assert (updated.display_name, updated.description, updated.time_zone) == (
        "Name",
        "desc",
        "Europe/Paris",
    )


def test_update_star_replaces_every_mutable_field(almanac: Almanac, account: TestAccount) -> None:
    cal = almanac.calendars().CreateCalendar(
        cal_pb.CreateCalendarRequest(parent=account.name, calendar=_full_calendar())
    )
    updated = almanac.calendars().UpdateCalendar(
        cal_pb.UpdateCalendarRequest(
            calendar=cal_pb.Calendar(
                name=cal.name, display_name="Only this", time_zone="Europe/Berlin"
            ),
            update_mask=_mask("*"),
        )
    )
    assert updated.display_name == "Only this"
    assert updated.time_zone == "Europe/Berlin"
    assert not updated.description and not updated.location and not updated.color
    assert not updated.event_types and not updated.default_reminders
    got = almanac.calendars().GetCalendar(
        cal_pb.GetCalendarRequest(name=cal.name, include_raw=True)
    )
    assert not got.HasField("raw")
    # `*` makes display_name required: it may not be replaced by nothing.
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: almanac.calendars().UpdateCalendar(
            cal_pb.UpdateCalendarRequest(
                calendar=cal_pb.Calendar(name=cal.name), update_mask=_mask("*")
            )
        ),
    )
    assert err.fields == {"calendar.display_name"}


def test_update_ignores_output_only_paths(almanac: Almanac, account: TestAccount) -> None:
    cal = account.create_calendar("Out")
    calendars = almanac.calendars()
    updated = calendars.UpdateCalendar(
        cal_pb.UpdateCalendarRequest(
            calendar=cal_pb.Calendar(
                name=cal.name,
                primary=True,
                description="yes",
                schedules=[cal_pb.Schedule(display_name="injected")],
            ),
            update_mask=_mask("primary", "schedules", "create_time", "update_time", "description"),
        )
    )
    assert updated.description == "yes"
    assert not updated.primary
    assert updated.create_time == cal.create_time
    listed = calendars.ListCalendars(
        cal_pb.ListCalendarsRequest(parent=account.name, include_schedules=True)
    )
    assert [c.name for c in listed.calendars if c.primary] == [account.primary]
    assert not any(c.schedules for c in listed.calendars)
    # The calendar is still deletable, i.e. not made primary in the store either.
    calendars.DeleteCalendar(cal_pb.DeleteCalendarRequest(name=cal.name))


def test_delete_calendar_deletes_its_schedules(almanac: Almanac, account: TestAccount) -> None:
    calendars = almanac.calendars()
    cal = account.create_calendar("Temp", calendar_id="temp")
    calendars.CreateSchedule(
        cal_pb.CreateScheduleRequest(
            parent=cal.name, schedule_id="s", schedule=cal_pb.Schedule(display_name="S")
        )
    )
    calendars.DeleteCalendar(cal_pb.DeleteCalendarRequest(name=cal.name))
    expect_error(
        Code.NOT_FOUND,
        lambda: calendars.ListSchedules(cal_pb.ListSchedulesRequest(parent=cal.name)),
    )
    account.create_calendar("Temp again", calendar_id="temp")
    reply = calendars.ListSchedules(cal_pb.ListSchedulesRequest(parent=cal.name))
    assert list(reply.schedules) == [] and reply.total_size == 0
    expect_error(
        Code.NOT_FOUND,
        lambda: calendars.GetSchedule(cal_pb.GetScheduleRequest(name=f"{cal.name}/schedules/s")),
    )


def test_bad_resource_names(almanac: Almanac) -> None:
    calendars = almanac.calendars()
    for name in (
        "accounts/x/calendars/Bad",
        "calendars/primary",
        "accounts/X/calendars/c",
        "accounts/x/calendars/c/extra",
    ):
        err = expect_error(
            Code.INVALID_ARGUMENT,
            lambda n=name: calendars.GetCalendar(cal_pb.GetCalendarRequest(name=n)),
        )
        assert err.fields == {"name"}
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: calendars.GetSchedule(
            cal_pb.GetScheduleRequest(name="accounts/x/calendars/c/events/e")
        ),
    )
    assert err.fields == {"name"}
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: almanac.accounts().GetAccount(acc_pb.GetAccountRequest(name="accounts/")),
    )
    assert err.fields == {"name"}
