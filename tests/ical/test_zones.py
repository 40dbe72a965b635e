"""TZID resolution, colours and the RFC value tables."""

from __future__ import annotations

import itertools

import icalendar
import pytest
from almanac.v1 import event_service_pb2 as ev_pb

from connectors.ical import ZoneResolver
from connectors.ical.colors import css_name, hex_from_css
from connectors.ical.lines import split_line
from connectors.ical.rfc import CLASS, PARTSTAT, STATUS, role_from_ical, role_to_ical
from connectors.ical.times import UnknownZone
from connectors.ical.vtimezone import vtimezone


@pytest.mark.parametrize(
    ("tzid", "zone"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        ("UTC", "UTC"),
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("Eastern Standard Time", "America/New_York"),
        ("Tokyo Standard Time", "Asia/Tokyo"),
        ("/mozilla.org/20050126_1/America/New_York", "America/New_York"),
        ("/freeassociation.sourceforge.net/Tzfile/Europe/London", "Europe/London"),
        ('"Asia/Kolkata"', "Asia/Kolkata"),
    ],
)
def test_names_resolve_without_a_vtimezone(tzid, zone):
    assert ZoneResolver().resolve(tzid) == zone


def test_unknown_names_explain_themselves():
    with pytest.raises(UnknownZone, match="no VTIMEZONE for it"):
        ZoneResolver().resolve("Middle Earth Time")


def test_vtimezone_matching_prefers_familiar_names():
    component = vtimezone("America/New_York", 2020, 2030)
    component["TZID"] = "Eastern (custom)"
    resolver = ZoneResolver(
        {"Eastern (custom)": component}, usage={"Eastern (custom)": (2026, 2026)}
    )
    # Detroit, Nassau and Toronto have the same offsets: the common name wins.
    assert resolver.resolve("Eastern (custom)") == "America/New_York"


def test_vtimezone_matching_compares_hours_not_only_dates():
    # Havana changes on the same days as New York, but at midnight, not 02:00.
    havana = vtimezone("America/Havana", 2020, 2030)
    havana["TZID"] = "Cuba (custom)"
    resolver = ZoneResolver({"Cuba (custom)": havana}, usage={"Cuba (custom)": (2026, 2027)})
    assert resolver.resolve("Cuba (custom)") == "America/Havana"


def test_resolver_works_on_an_icalendar_calendar():
    calendar = icalendar.Calendar()
    component = vtimezone("Australia/Adelaide", 2026, 2027)
    component["TZID"] = "Adelaide-ish"
    calendar.add_component(component)
    assert ZoneResolver.from_calendar(calendar).resolve("Adelaide-ish") == "Australia/Adelaide"


def test_resolution_failures_are_cached_and_repeatable():
    resolver = ZoneResolver()
    for _ in range(2):
        with pytest.raises(UnknownZone):
            resolver.resolve("Nowhere")


@pytest.mark.parametrize(
    ("hex_value", "name"),
    [("#FF0000", "red"), ("#00ffff", "aqua"), ("#4E9075", "seagreen"), ("#123", "midnightblue")],
)
def test_css_names(hex_value, name):
    assert css_name(hex_value) == name


def test_css_names_read_back():
    assert hex_from_css("Red") == "#FF0000"
    assert hex_from_css("#abcdef") == "#ABCDEF"
    assert hex_from_css("no-such-colour") is None
    assert css_name("not a colour") is None


def test_value_tables_are_case_insensitive_and_default_as_rfc_says():
    assert STATUS.from_ical("cancelled") == ev_pb.EVENT_STATUS_CANCELLED
    assert STATUS.from_ical("NEEDS-ACTION") == ev_pb.EVENT_STATUS_UNSPECIFIED  # a VTODO status
    assert CLASS.from_ical("X-SECRET") == ev_pb.VISIBILITY_PRIVATE  # RFC 5545 3.8.1.3
    assert PARTSTAT.from_ical("DELEGATED") == ev_pb.RESPONSE_STATUS_UNSPECIFIED
    assert STATUS.to_ical(ev_pb.EVENT_STATUS_UNSPECIFIED) is None


def test_role_table_is_consistent():
    for role, required in itertools.product(ev_pb.AttendeeRole.values(), [None, True, False]):
        written = role_to_ical(role, required)
        if written is None:
            assert (role, required) == (ev_pb.ATTENDEE_ROLE_UNSPECIFIED, None)
        else:
            assert role_to_ical(*role_from_ical(written)) == written


@pytest.mark.parametrize(
    ("line", "parts"),
    [
        ("DTSTART:20260101", ("DTSTART", {}, "20260101")),
        ("dtstart;tzid=Europe/Berlin:x", ("DTSTART", {"TZID": "Europe/Berlin"}, "x")),
        # No backslash escapes in parameters (RFC 5545 section 3.1).
        ('A;CN="a\\,b:c";ROLE=CHAIR:m', ("A", {"CN": "a\\,b:c", "ROLE": "CHAIR"}, "m")),
        ("X;CN=^'q^' ^^ ^n:v", ("X", {"CN": "\"q\" ^ \n"}, "v")),  # RFC 6868
        # Unquoted commas are kept where a list makes no sense.
        ("A;TZID=Amsterdam, Berlin, Bern:x", ("A", {"TZID": "Amsterdam, Berlin, Bern"}, "x")),
        ('X;MEMBER="a","b":v', ("X", {"MEMBER": ["a", "b"]}, "v")),
        ("DESCRIPTION:a:b;c", ("DESCRIPTION", {}, "a:b;c")),
    ],
)  # fmt: skip
def test_content_lines_split_by_the_rfc_grammar(line, parts):
    name, params, value = split_line(line)
    assert (name, dict(params), value) == parts
