"""ListTimeZones, ExportCalendar (ICS) and the not-yet-implemented ImportCalendar."""

from __future__ import annotations

import datetime as dt
import re

import grpc
import icalendar
import pytest
from almanac.v1 import calendar_service_pb2 as cal_pb
from google.api import httpbody_pb2
from google.protobuf import timestamp_pb2

from tests.helpers import Almanac, TestAccount, expect_error, list_all, on_each_store

Code = grpc.StatusCode


def _at(year: int, month: int, day: int) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(dt.datetime(year, month, day, 12, tzinfo=dt.UTC))
    return ts


@pytest.mark.parametrize(
    ("when", "offset", "dst", "abbreviation"),
    [
        (_at(2025, 1, 15), 3600, False, "CET"),
        (_at(2025, 7, 15), 7200, True, "CEST"),
    ],
)
def test_time_zone_offset_at_instant(
    almanac: Almanac, when: timestamp_pb2.Timestamp, offset: int, dst: bool, abbreviation: str
) -> None:
    reply = almanac.calendars().ListTimeZones(
        cal_pb.ListTimeZonesRequest(query="Europe/Berlin", time=when)
    )
    assert [z.id for z in reply.time_zones] == ["Europe/Berlin"]
    assert reply.total_size == 1
    zone = reply.time_zones[0]
    assert zone.utc_offset.seconds == offset and zone.utc_offset.nanos == 0
    assert zone.dst is dst
    assert zone.abbreviation == abbreviation


def test_time_zone_west_of_greenwich_is_negative(almanac: Almanac) -> None:
    reply = almanac.calendars().ListTimeZones(
        cal_pb.ListTimeZonesRequest(query="america/los_angeles", time=_at(2025, 1, 15))
    )
    assert [(z.id, z.utc_offset.seconds, z.dst) for z in reply.time_zones] == [
        ("America/Los_Angeles", -8 * 3600, False)
    ]


def test_time_zone_query_is_case_insensitive_substring(almanac: Almanac) -> None:
    calendars = almanac.calendars()
    zones = list_all(
        calendars.ListTimeZones, cal_pb.ListTimeZonesRequest(query="EUROPE/"), "time_zones"
    )
    ids = [z.id for z in zones]
    assert "Europe/Berlin" in ids and "Europe/Paris" in ids
    assert all("europe/" in i.lower() for i in ids)
    assert ids == sorted(ids)
    none = calendars.ListTimeZones(cal_pb.ListTimeZonesRequest(query="no such zone"))
    assert list(none.time_zones) == [] and none.total_size == 0 and not none.next_page_token


def test_time_zones_default_to_now(almanac: Almanac) -> None:
    reply = almanac.calendars().ListTimeZones(cal_pb.ListTimeZonesRequest(query="Asia/Tokyo"))
    assert [(z.id, z.utc_offset.seconds, z.dst, z.abbreviation) for z in reply.time_zones] == [
        ("Asia/Tokyo", 9 * 3600, False, "JST")
    ]


@pytest.mark.parametrize("seconds", [10**13, -(10**13)], ids=["after-9999", "before-0001"])
def test_time_outside_timestamp_range_is_invalid_argument(almanac: Almanac, seconds: int) -> None:
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: almanac.calendars().ListTimeZones(
            cal_pb.ListTimeZonesRequest(time=timestamp_pb2.Timestamp(seconds=seconds))
        ),
    )
    assert err.fields == {"time"}


@pytest.mark.parametrize(
    ("query", "seconds"),
    [
        ("America/New_York", -62135596800),  # 0001-01-01T00:00:00Z, the first valid instant
        ("Pacific/Kiritimati", 253402300799),  # 9999-12-31T23:59:59Z, the last one
    ],
)
def test_extreme_valid_times_are_no_internal_error(
    almanac: Almanac, query: str, seconds: int
) -> None:
    """Any valid Timestamp gets offsets, or at worst INVALID_ARGUMENT on `time`."""
    request = cal_pb.ListTimeZonesRequest(
        query=query, time=timestamp_pb2.Timestamp(seconds=seconds)
    )
    try:
        reply = almanac.calendars().ListTimeZones(request)
    except grpc.RpcError as exc:
        assert exc.code() == Code.INVALID_ARGUMENT, f"{exc.code().name}: {exc.details()}"
        assert expect_error(
            Code.INVALID_ARGUMENT, lambda: almanac.calendars().ListTimeZones(request)
        ).fields == {"time"}
    else:
        assert [z.id for z in reply.time_zones] == [query]


def _unescape_text(value: bytes) -> str:
    """RFC 5545 TEXT unescaping (section 3.3.11); X- properties default to TEXT."""
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m[1] in "nN" else m[1], value.decode())


def _export(almanac: Almanac, name: str, token: str = "") -> httpbody_pb2.HttpBody:
    return almanac.calendars(token).ExportCalendar(cal_pb.ExportCalendarRequest(name=name))


@on_each_store
def test_export_calendar_is_parseable_ics(almanac: Almanac, account: TestAccount) -> None:
    cal = account.create_calendar(
        'Team; Berlin, "HQ" \\ ops\nsecond line', time_zone="Europe/Berlin"
    )
    body = _export(almanac, cal.name, account.token("calendars:read"))
    assert body.content_type.split(";")[0].strip() == "text/calendar"
    parsed = icalendar.Calendar.from_ical(body.data)
    assert parsed.name == "VCALENDAR"
    assert str(parsed["VERSION"]) == "2.0"
    assert parsed["PRODID"]
    # icalendar keeps unknown X- properties raw, so unescape them here.
    assert _unescape_text(parsed["X-WR-CALNAME"].to_ical()) == cal.display_name
    # No X-WR-TIMEZONE of Almanac's own: readers that honour it move floating
    # and UTC-based series (issue 15).
    assert "X-WR-TIMEZONE" not in parsed
    assert b"\r\n" in body.data and body.data.endswith(b"\r\n")
    for line in body.data.split(b"\r\n"):
        assert b"\n" not in line and b"\r" not in line, line


def test_export_primary_via_alias(almanac: Almanac, account: TestAccount) -> None:
    body = _export(almanac, "accounts/me/calendars/primary", account.token("calendars:read"))
    parsed = icalendar.Calendar.from_ical(body.data)
    assert parsed.name == "VCALENDAR"


_ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
    b"UID:e1@test\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250102T100000Z\r\n"
    b"DTEND:20250102T110000Z\r\nSUMMARY:Imported\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.mark.parametrize("validate_only", [False, True])
def test_import_calendar_counts_and_validate_only_writes_nothing(
    almanac: Almanac, account: TestAccount, validate_only: bool
) -> None:
    reply = account.calendars().ImportCalendar(
        cal_pb.ImportCalendarRequest(
            parent=account.primary,
            validate_only=validate_only,
            ics=httpbody_pb2.HttpBody(content_type="text/calendar", data=_ICS),
        )
    )
    assert (reply.created_count, reply.updated_count, reply.skipped_count) == (1, 0, 0)
    exported = _export(almanac, account.primary).data
    assert (b"UID:e1@test" in exported) is (not validate_only)


def test_import_of_invalid_ics_names_the_line_and_imports_nothing(
    almanac: Almanac, account: TestAccount
) -> None:
    broken = _ICS.replace(b"END:VEVENT\r\n", b"") + b"garbage without a colon\r\n"
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: account.calendars().ImportCalendar(
            cal_pb.ImportCalendarRequest(
                parent=account.primary,
                ics=httpbody_pb2.HttpBody(content_type="text/calendar", data=_ICS + broken),
            )
        ),
    )
    assert err.fields == {"ics"}
    assert err.bad_request is not None
    descriptions = [v.description for v in err.bad_request.field_violations]
    assert any(d.startswith("line ") for d in descriptions), descriptions
    assert b"UID:e1@test" not in _export(almanac, account.primary).data


def test_import_calendar_still_checks_access(almanac: Almanac, account: TestAccount) -> None:
    request = cal_pb.ImportCalendarRequest(
        parent=account.primary, ics=httpbody_pb2.HttpBody(content_type="text/calendar", data=_ICS)
    )
    expect_error(
        Code.PERMISSION_DENIED, lambda: account.calendars("calendars:read").ImportCalendar(request)
    )
    other = TestAccount(almanac, almanac.create_local_account())
    expect_error(Code.PERMISSION_DENIED, lambda: other.calendars().ImportCalendar(request))


def test_export_has_no_control_characters_in_content_lines(
    almanac: Almanac, account: TestAccount
) -> None:
    """RFC 5545 3.3.11: TEXT has no CONTROL characters; a CRLF typed by a user is escaped."""
    cal = account.create_calendar("Windows\r\nline\tbreak")
    body = _export(almanac, cal.name)
    lines = body.data.split(b"\r\n")
    assert lines[-1] == b""
    for line in lines[:-1]:
        assert not re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", line), line
    parsed = icalendar.Calendar.from_ical(body.data)
    assert _unescape_text(parsed["X-WR-CALNAME"].to_ical()).startswith("Windows")
