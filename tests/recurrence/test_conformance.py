"""Conformance: every ICS case in tests/data/recurrence, expanded by
`connectors.recurrence.expand` and by recurring-ical-events, must give the
same (start instant, end instant) set in the case's window, and the same
instance positions.

The only differences allowed are the ones a case declares in
X-ALMANAC-ADJUST (see tests/recurrence/ics_cases.py), each backed by an RFC
5545 MUST and asserted on its own in test_rfc_deviations.py; a declared
adjustment that changes nothing fails the test too, so the declarations stay
honest.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import recurring_ical_events

from connectors.recurrence import expand
from tests.recurrence.ics_cases import (
    Case,
    all_cases,
    instant,
    load_case,
    rie_spans,
    to_proto,
)

CASES = [p for p in all_cases() if "manual" not in load_case(p).adjust]


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 35


def _expected_positions(case: Case) -> dict[datetime, int]:
    """Start instant -> 1-based position in the set before EXDATEs, by
    recurring-ical-events over the series' whole history."""
    cal = copy.deepcopy(case.calendar)
    for ev in cal.walk("VEVENT"):
        ev.pop("EXDATE", None)
    first = instant(case.event["DTSTART"].dt, case.floating_zone)
    starts: set[datetime] = set()
    for comp in recurring_ical_events.of(cal).between(
        first - timedelta(days=1), case.window_end + timedelta(days=3)
    ):
        starts.add(instant(comp["DTSTART"].dt, case.floating_zone))
    return {s: i for i, s in enumerate(sorted(starts), start=1)}


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_matches_recurring_ical_events(path: Path) -> None:
    case = load_case(path)
    expected, used = rie_spans(case)
    assert used == case.adjust, "declared adjustments must be exactly those that apply"
    if case.expect_count is not None:
        assert len(expected) == case.expect_count, "the case's own count guard"
    assert expected, "a case must expect at least one instance"

    start, end, recurrence = to_proto(case)
    result = expand(
        start,
        end,
        recurrence,
        window_start=case.window_start,
        window_end=case.window_end,
        floating_zone=case.floating_zone,
    )
    got = [(o.start_utc, o.end_utc) for o in result.occurrences]
    assert not result.truncated
    assert len(set(got)) == len(got), "no duplicates"
    assert got == sorted(got), "in start order"
    assert set(got) == expected

    positions = _expected_positions(case)
    assert {o.start_utc: o.index for o in result.occurrences} == {s: positions[s] for s, _ in got}
