"""VTIMEZONE components for IANA zones, for export.

Not icalendar's ``Timezone.from_tzid`` / ``add_missing_timezones``: those
write each observance's DTSTART as the wall time *after* the change while
TZOFFSETFROM gives the offset *before* it, which RFC 5545 (section 3.6.5,
"the effective onset date and local time") reads as one hour off for the
spring change, and they list every change as an RDATE up to 2038 only.

Here each change is written at its onset in the old offset, and yearly
patterns become ``RRULE:FREQ=YEARLY;BYMONTH=..;BYDAY=..`` observances; the
pattern still in force at the end of the range is left open (no UNTIL), as
tzdata itself extends the current rule forever. Changes that follow no
pattern (historical ones, Morocco's Ramadan suspensions) are RDATEs.
"""

from __future__ import annotations

import calendar as _gregorian
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard
from icalendar.prop import vRecur

from connectors.recurrence.zones import Change, State, changes_between, state

from .times import zone

__all__ = ["vtimezone"]

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _rules(onset: datetime) -> set[str]:
    """The yearly RRULE parts (besides BYMONTH) that match this onset."""
    weekday = _WEEKDAYS[onset.weekday()]
    rules = {f"BYMONTHDAY={onset.day}"}
    nth = (onset.day - 1) // 7 + 1
    if nth <= 4:
        rules.add(f"BYDAY={nth}{weekday}")
    if onset.day + 7 > _gregorian.monthrange(onset.year, onset.month)[1]:
        rules.add(f"BYDAY=-1{weekday}")
    return rules


def _preferred(rules: set[str]) -> str:
    # "Last Sunday" over "4th Sunday" when both fit (the EU rule), then
    # "n-th weekday" (the US rule), then a fixed day of the month.
    for prefix in ("BYDAY=-1", "BYDAY=", "BYMONTHDAY="):
        for rule in sorted(rules):
            if rule.startswith(prefix):
                return rule
    raise AssertionError("a run always has a rule")


def _runs(changes: list[Change]) -> list[tuple[list[Change], set[str]]]:
    """Split same-kind changes into runs that one yearly rule describes."""
    runs: list[tuple[list[Change], set[str]]] = []
    for change in changes:
        onset = change.onset
        if runs:
            run, rules = runs[-1]
            last = run[-1].onset
            common = rules & _rules(onset)
            if (
                onset.year == last.year + 1
                and onset.month == last.month
                and onset.time() == last.time()
                and common
            ):
                run.append(change)
                runs[-1] = (run, common)
                continue
        runs.append(([change], _rules(onset)))
    return runs


@lru_cache(maxsize=256)
def _changes(zone_name: str, start: datetime, end: datetime) -> tuple[Change, ...]:
    # Sampling decades of a zone takes tens of milliseconds; exports of the
    # same calendar ask for the same ranges again and again.
    return tuple(changes_between(zone(zone_name), start, end))


def _observance(
    before: timedelta, after: State, start: datetime
) -> TimezoneStandard | TimezoneDaylight:
    component = TimezoneDaylight() if after.dst else TimezoneStandard()
    component.add("DTSTART", start)
    component.add("TZOFFSETFROM", before)
    component.add("TZOFFSETTO", after.offset)
    if after.name:
        component.add("TZNAME", after.name)
    return component


def vtimezone(zone_name: str, first_year: int, last_year: int) -> Timezone:
    """A VTIMEZONE for ``zone_name``, exact from ``first_year`` through
    ``last_year`` and following the then-current rule after it."""
    tz = zone(zone_name)
    first_day = datetime(first_year, 1, 1)
    start = first_day.replace(tzinfo=tz).astimezone(UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=tz).astimezone(UTC)
    changes = _changes(zone_name, start, end)
    initial = state(tz, start)

    result = Timezone()
    result.add("TZID", zone_name)
    observances = [_observance(initial.offset, initial, first_day)]

    groups: dict[tuple[timedelta, State], list[Change]] = defaultdict(list)
    for change in changes:
        groups[(change.before.offset, change.after)].append(change)
    for (before, after), group in groups.items():
        singles: list[datetime] = []
        for run, rules in _runs(group):
            if len(run) < 2:
                singles.append(run[0].onset)
                continue
            observance = _observance(before, after, run[0].onset)
            rule = f"FREQ=YEARLY;BYMONTH={run[0].onset.month};{_preferred(rules)}"
            if run[-1].onset.year < last_year:
                # An ended rule. UNTIL is in UTC (RFC 5545 section 3.3.10),
                # but dateutil (so icalendar) compares it with the local
                # onset; a day later matches no other yearly instance and
                # reads the same both ways.
                until = run[-1].instant + timedelta(days=1)
                rule += f";UNTIL={until:%Y%m%dT%H%M%SZ}"
            observance.add("RRULE", vRecur.from_ical(rule))
            observances.append(observance)
        if singles:
            observance = _observance(before, after, singles[0])
            if singles[1:]:
                observance.add("RDATE", singles[1:])
            observances.append(observance)

    observances.sort(key=lambda c: c.DTSTART)
    for observance in observances:
        result.add_component(observance)
    return result
