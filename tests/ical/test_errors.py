"""Broken documents: INVALID_ARGUMENT naming the line as sent, one violation
per problem, and never a partial result."""

from __future__ import annotations

import re

import pytest

from connectors.errors import InvalidArgument
from connectors.ical import MAX_COMPONENTS, MAX_ICS_BYTES, from_ics

from .support import load, problems


def lines_of(descriptions: list[str]) -> list[int]:
    found = []
    for description in descriptions:
        match = re.match(r"line (\d+): ", description)
        assert match, description
        found.append(int(match.group(1)))
    return found


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "broken_unclosed_vevent.ics",
            [(4, "BEGIN:VEVENT is never closed (END:VEVENT missing before line 9)")],
        ),
        (
            "broken_unclosed_at_end.ics",
            [
                (1, "BEGIN:VCALENDAR is never closed (END:VCALENDAR missing)"),
                (4, "BEGIN:VEVENT is never closed (END:VEVENT missing)"),
            ],
        ),
        (
            "broken_mismatched_end.ics",
            [
                (7, "BEGIN:VALARM is never closed (END:VALARM missing before line 11)"),
                (12, "END:VTODO without a matching BEGIN:VTODO"),
            ],
        ),
        (
            "broken_outside_vcalendar.ics",
            [
                (1, "X-JUNK outside BEGIN:VCALENDAR ... END:VCALENDAR"),
                (10, "SUMMARY outside BEGIN:VCALENDAR ... END:VCALENDAR"),
                (11, "BEGIN:VEVENT outside BEGIN:VCALENDAR ... END:VCALENDAR"),
            ],
        ),
        (
            # Lines 6-8 are one folded DESCRIPTION: numbers are physical lines.
            "broken_malformed_lines.ics",
            [
                (10, "not a NAME[;PARAM=VALUE]:VALUE line (expected ':' after 'THIS')"),
                (13, "not a NAME[;PARAM=VALUE]:VALUE line (a line must start with a property"),
            ],
        ),
        (
            "broken_bad_dtstart.ics",
            [(9, "DTSTART: invalid DATE-TIME value '20261345T250000'")],
        ),
        (
            # The RRULE starts on line 9 and continues (folded) on line 10.
            "broken_bad_rrule.ics",
            [(9, "RRULE: invalid RECUR value 'FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,XX;UNTIL=")],
        ),
        (
            "broken_unknown_tzid.ics",
            [(7, "unknown time zone 'Mars/Olympus_Mons': not an IANA or Windows zone name")],
        ),
        (
            "broken_duplicate_uid.ics",
            [
                (11, "another VEVENT with UID 'same@example.com' (first at line 4)"),
                (24, "a second VEVENT for the same instance of UID 'same@example.com' (first at"),
            ],
        ),
        (
            "broken_non_utf8.ics",
            [(6, "not valid UTF-8 (byte 0xE9)"), (11, "not valid UTF-8 (byte 0xFF)")],
        ),
        (
            "broken_multiple_problems.ics",
            [
                (7, "DTSTART: invalid DATE-TIME value '2026-01-05T10:00:00Z'"),
                (14, "RRULE: invalid RECUR value 'FREQ=FORTNIGHTLY'"),
                (20, "DTEND is before DTSTART"),
                (22, "VEVENT has no DTSTART"),
                (27, "a VEVENT with RECURRENCE-ID must have a UID"),
                (37, "DTEND and DURATION must not both be present"),
                (43, "RRULE: COUNT and UNTIL must not both be present"),
                (48, "DTEND must have the same value type (DATE or DATE-TIME) as DTSTART"),
            ],
        ),
    ],
)
def test_broken_documents_name_their_lines(fixture, expected):
    found = problems(load(fixture))
    assert lines_of(found) == [line for line, _ in expected]
    for description, (line, start) in zip(found, expected, strict=True):
        assert description.startswith(f"line {line}: {start}"), description


def test_the_error_message_lists_the_first_problems():
    with pytest.raises(InvalidArgument) as caught:
        from_ics(load("broken_multiple_problems.ics"), default_zone="UTC")
    assert caught.value.message.startswith("invalid ICS document: line 7: DTSTART")
    assert caught.value.message.endswith("(and 5 more)")


def test_all_or_nothing():
    # One good event and one bad one: nothing is returned.
    data = load("broken_bad_dtstart.ics").replace(
        b"END:VCALENDAR",
        b"BEGIN:VEVENT\nUID:good\nDTSTART:20260101T100000Z\nEND:VEVENT\nEND:VCALENDAR",
    )
    assert lines_of(problems(data)) == [9]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "line 1: no BEGIN:VCALENDAR: this is not an iCalendar document"),
        (b"<html><body>Not found</body></html>", "line 1: not a NAME[;PARAM=VALUE]:VALUE line"),
        (b" continued\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "line 1: continuation line"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VCALENDAR\r\n", "line 2: VCALENDAR cannot be nested"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:\r\nEND:VCALENDAR\r\n", "line 2: BEGIN without a component"),
        (
            b'BEGIN:VCALENDAR\r\nX-A;X-P="open:1\r\nEND:VCALENDAR\r\n',
            "line 2: not a NAME[;PARAM=VALUE]:VALUE line (the quoted value of parameter X-P",
        ),
    ],
)
def test_documents_that_are_not_icalendar(data, expected):
    found = problems(data)
    assert any(description.startswith(expected) for description in found), found


def test_size_limit():
    data = b"BEGIN:VCALENDAR\r\n" + b"X" * MAX_ICS_BYTES
    assert problems(data) == [f"the document is {len(data)} bytes; at most 16 MiB are accepted"]


def test_component_limit():
    event = b"BEGIN:VEVENT\r\nEND:VEVENT\r\n"
    data = b"BEGIN:VCALENDAR\r\n" + event * MAX_COMPONENTS + b"END:VCALENDAR\r\n"
    # The calendar itself is the first component: the limit is hit by the
    # last VEVENT, which begins on line 2 + 2 * (MAX_COMPONENTS - 1).
    assert problems(data) == [
        f"line {2 + 2 * (MAX_COMPONENTS - 1)}: more than {MAX_COMPONENTS} components (the limit)"
    ]


def test_violations_are_capped():
    bad = b"".join(b"BROKEN LINE %d\r\n" % i for i in range(150))
    found = problems(b"BEGIN:VCALENDAR\r\n" + bad + b"END:VCALENDAR\r\n")
    assert len(found) == 101 and found[-1] == "... and 50 more problems"
    assert lines_of(found[:3]) == [2, 3, 4]


def test_exrule_leaves_its_component_out_with_a_warning():
    data = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
        b"BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20260101T100000Z\r\n"
        b"RRULE:FREQ=DAILY\r\nEXRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\n"
        b"BEGIN:VEVENT\r\nUID:b\r\nDTSTART:20260105T120000Z\r\nEND:VEVENT\r\n"
        b"END:VCALENDAR\r\n"
    )
    parsed = from_ics(data, default_zone="UTC")
    assert [e.ical_uid for e in parsed.events] == ["b"]
    assert parsed.skipped_count == 1
    assert [(w.line, w.message) for w in parsed.warnings] == [
        (8, "VEVENT at line 4 left out: EXRULE (removed by RFC 5545) is not supported")
    ]


def test_unknown_default_zone_is_a_caller_bug():
    with pytest.raises(ValueError, match="unknown time zone"):
        from_ics(load("google_export.ics"), default_zone="Mars/Base")
