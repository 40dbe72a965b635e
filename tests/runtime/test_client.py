"""``almanac call`` with a bad method or body: one clear line, non-zero exit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import REPO_ROOT


@pytest.mark.parametrize(
    ("method", "body", "expected"),
    [
        (
            "CalendarService.ListCalendars",
            '{"parnt": "accounts/a"}',
            "no field 'parnt' in ListCalendarsRequest; valid fields: parent, pageSize",
        ),
        (
            "EventService.CreateEvent",
            '{"event": {"strt": {}}}',
            "no field 'strt' in CreateEventRequest.event; valid fields: name, displayName",
        ),
        ("CalendarService.ListCalendars", "{bad", "the request is not valid JSON"),
        ("CalendarService.ListCalendars", "[]", "must be a JSON object"),
        ("CalendarService.ListCalendarz", "{}", "methods: ListCalendars, GetCalendar"),
        ("CalendarServise.ListCalendars", "{}", "services: AccountService"),
    ],
)
def test_bad_calls_print_one_line(method: str, body: str, expected: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services", "call", method, body, "--address", "127.0.0.1:1"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("almanac call: "), done.stderr
    assert expected in lines[0]
