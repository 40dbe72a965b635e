"""Where Almanac deliberately differs from recurring-ical-events, and why.

Each test states the RFC 5545 text Almanac follows, shows what
recurring-ical-events (3.8, on dateutil) does on the same VEVENT, and asserts
Almanac's behaviour. The generic conformance test applies the same
differences through each case's X-ALMANAC-ADJUST declaration.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from connectors.recurrence import expand
from tests.recurrence.ics_cases import DATA, load_case, nonexistent, rie_raw, to_proto

NEW_YORK = ZoneInfo("America/New_York")


def _ours(name: str):
    case = load_case(DATA / f"{name}.ics")
    start, end, rec = to_proto(case)
    return case, expand(
        start,
        end,
        rec,
        window_start=case.window_start,
        window_end=case.window_end,
        floating_zone=case.floating_zone,
    ).occurrences


def test_rrule_instance_in_dst_gap_moves_forward_rfc5545_3_3_5() -> None:
    """RFC 5545 §3.3.5: a local time that does not occur "is interpreted
    using the UTC offset before the gap in local times". §3.3.10 says such
    instances "MUST be ignored", which contradicts it; Almanac follows the
    shift, as Google Calendar, Apple Calendar and recurring-ical-events do
    (architecture.md, Connectors). 02:30 on the change day is 03:30 EDT.
    """
    case, ours = _ours("dst_gap_new_york_0230_weekly")
    gap_day = date(2026, 3, 8)
    theirs = [(s, e) for s, e in rie_raw(case) if s.date() == gap_day]
    assert len(theirs) == 1
    start, end = theirs[0]
    assert nonexistent(start)
    assert start.astimezone(UTC) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)

    moved = next(o for o in ours if o.original_start.date() == gap_day)
    assert moved.start_utc == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert moved.original_start.isoformat() == "2026-03-08T03:30:00-04:00"
    assert moved.instance_id_suffix == "20260308T073000Z"
    # Its end is the master's exact duration later (§3.8.5.3); the other
    # library computes it on the wall clock, before the start.
    assert moved.end_utc - moved.start_utc == timedelta(minutes=30)
    assert end.astimezone(UTC) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    by_day = {o.original_start.date(): o.index for o in ours}
    assert by_day[date(2026, 3, 1)] == 2
    assert (by_day[gap_day], by_day[date(2026, 3, 15)]) == (3, 4)


def test_shifted_gap_instance_counts_towards_count() -> None:
    """It is an instance like any other, so COUNT=5 ends on the 10th, as in
    recurring-ical-events."""
    case, ours = _ours("dst_gap_new_york_0230_daily_count")
    days = [o.original_start.date().day for o in ours]
    assert days == [6, 7, 8, 9, 10]
    assert [o.index for o in ours] == [1, 2, 3, 4, 5]
    assert ours[2].original_start.hour == 3
    theirs = sorted(s.date().day for s, _ in rie_raw(case))
    assert theirs == days


def test_instances_keep_the_exact_duration_rfc5545_3_8_5_3() -> None:
    """RFC 5545 §3.8.5.3: "If the duration of the recurring component is
    specified with the "DTEND" or "DUE" property, then the same exact
    duration will apply to all the members of the generated recurrence set."
    A 23:00-04:00 night lasts 5 hours, also across the spring change; the
    other library adds 5 wall-clock hours (4 real ones that night)."""
    case, ours = _ours("overnight_across_gap_berlin_daily")
    assert {o.end_utc - o.start_utc for o in ours} == {timedelta(hours=5)}
    change_night = next(o for o in ours if o.original_start.date() == date(2026, 3, 28))
    assert change_night.end.isoformat() == "2026-03-29T05:00:00+02:00"
    theirs = next((s, e) for s, e in rie_raw(case) if s.date() == date(2026, 3, 28))
    assert theirs[1].astimezone(UTC) - theirs[0].astimezone(UTC) == timedelta(hours=4)


def test_local_until_is_read_in_the_series_zone() -> None:
    """RFC 5545 §3.3.10 wants UNTIL in UTC when DTSTART has a TZID ("MUST be
    specified as a date with UTC time"); Almanac also accepts a local UNTIL
    and reads it in the series' zone, so UNTIL=20260302T090000 includes the
    09:00 New York instance that day. recurring-ical-events reads it as UTC
    (09:00Z = 04:00 EST) and drops that instance."""
    case, ours = _ours("until_local_time_zoned_series")
    assert ours[-1].original_start == datetime(2026, 3, 2, 9, tzinfo=NEW_YORK)
    assert len(ours) == 9
    theirs = max(s for s, _ in rie_raw(case))
    assert theirs == datetime(2026, 2, 23, 9, tzinfo=NEW_YORK)


def test_ambiguous_time_is_the_first_occurrence_rfc5545_3_3_5() -> None:
    """RFC 5545 §3.3.5: "If, based on the definition of the referenced time
    zone, the local time described occurs more than once (when changing from
    daylight to standard time), the DATE-TIME value refers to the first
    occurrence of the referenced time." Both implementations agree."""
    case, ours = _ours("dst_overlap_new_york_0130_weekly")
    fall_back = next(o for o in ours if o.original_start.date() == date(2026, 11, 1))
    assert fall_back.start_utc == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # EDT
    assert fall_back.instance_id_suffix == "20261101T053000Z"
    theirs = next(s for s, _ in rie_raw(case) if s.date() == date(2026, 11, 1))
    assert theirs.astimezone(UTC) == fall_back.start_utc


def test_hourly_gap_instance_is_not_doubled_rfc5545_3_8_5_3() -> None:
    """An HOURLY rule through the gap: 02:00 shifts onto 03:00 EDT (07:00Z),
    which the rule names anyway. recurring-ical-events returns that instant
    twice; RFC 5545 §3.8.5.3: "Duplicate instances are ignored"."""
    case, ours = _ours("dst_gap_new_york_hourly_until")
    starts = [s.astimezone(UTC) for s, _ in rie_raw(case)]
    doubled = datetime(2026, 3, 8, 7, tzinfo=UTC)
    assert starts.count(doubled) == 2
    assert [o.start_utc for o in ours].count(doubled) == 1
    assert sorted(set(starts)) == [o.start_utc for o in ours]
