"""The UTC offsets a VTIMEZONE component defines, for zone matching.

Not dateutil's ``tzical``: it re-walks every observance's rule from its
DTSTART on every lookup, and Outlook's DTSTARTs are in 1601, which makes a
year of daily lookups take seconds. Here the onsets inside the range of
interest are listed once and looked up by bisection.

RFC 5545 section 3.6.5: each STANDARD/DAYLIGHT observance starts at its
DTSTART and recurs by RRULE/RDATE; every onset is a local time in the
TZOFFSETFROM offset, after which TZOFFSETTO applies.
"""

from __future__ import annotations

import warnings
from bisect import bisect_right
from datetime import date, datetime, timedelta
from typing import Any

from dateutil.rrule import rrulestr

__all__ = ["Observances"]


def _naive(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    raise ValueError(f"not a date-time: {value!r}")


def _values(component: Any, name: str) -> list[Any]:
    found = component.get(name)
    if found is None:
        return []
    return found if isinstance(found, list) else [found]


def _offset(component: Any, name: str) -> timedelta:
    value = component.get(name)
    delta = getattr(value, "td", None)
    if not isinstance(delta, timedelta):
        raise ValueError(f"{component.name} has no valid {name}")
    return delta


def _closer(rule: Any, first: datetime, low: datetime) -> datetime:
    """A DTSTART for a yearly rule just before ``low``, with the same result.

    dateutil iterates from DTSTART on every query, and Outlook writes 1601:
    four centuries of onsets per observance. Moving DTSTART forward by whole
    intervals keeps a COUNT-less yearly rule's onsets (DTSTART itself is
    listed separately).
    """
    freq = [str(f).upper() for f in rule.get("FREQ", [])]
    if freq != ["YEARLY"] or rule.get("COUNT"):
        return first
    interval = int((rule.get("INTERVAL") or [1])[0]) or 1
    years = (low.year - 1 - first.year) // interval * interval
    if years <= 0:
        return first
    try:
        return first.replace(year=first.year + years)
    except ValueError:  # 29 February
        return first


class Observances:
    """UTC offsets of a VTIMEZONE between two UTC instants (naive)."""

    def __init__(self, vtimezone: Any, start: datetime, end: datetime) -> None:
        onsets: list[tuple[datetime, timedelta, timedelta]] = []
        low, high = start - timedelta(days=2), end + timedelta(days=2)
        for sub in vtimezone.subcomponents:
            if sub.name not in ("STANDARD", "DAYLIGHT"):
                continue
            before, after = _offset(sub, "TZOFFSETFROM"), _offset(sub, "TZOFFSETTO")
            dtstart = sub.get("DTSTART")
            if dtstart is None:
                raise ValueError(f"{sub.name} has no DTSTART")
            first = _naive(dtstart.dt)
            local = [first]
            for rule in _values(sub, "RRULE"):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # dateutil's RFC deprecations
                    recur = rrulestr(
                        rule.to_ical().decode(), dtstart=_closer(rule, first, low), ignoretz=True
                    )
                local += recur.between(low + before, high + before, inc=True)
                previous = recur.before(low + before)
                if previous is not None:
                    local.append(previous)
            for rdate in _values(sub, "RDATE"):
                for value in rdate.dts:
                    dt = value.dt[0] if isinstance(value.dt, tuple) else value.dt
                    local.append(_naive(dt))
            onsets += [(moment - before, before, after) for moment in local]
        if not onsets:
            raise ValueError("no STANDARD or DAYLIGHT observance")
        onsets.sort(key=lambda onset: onset[0])
        self._at = [onset[0] for onset in onsets]
        self._onsets = onsets
        # Before every onset RFC 5545 defines nothing; standard time (the
        # earliest STANDARD observance's TZOFFSETTO) is the zone's base, as
        # dateutil (so recurring-ical-events) reads it.
        standard = [
            (_naive(sub["DTSTART"].dt), _offset(sub, "TZOFFSETTO"))
            for sub in vtimezone.subcomponents
            if sub.name == "STANDARD" and sub.get("DTSTART") is not None
        ]
        self._before = min(standard)[1] if standard else onsets[0][1]

    def utcoffset(self, at: datetime) -> timedelta:
        """The offset in force at ``at`` (naive UTC)."""
        index = bisect_right(self._at, at) - 1
        if index < 0:
            return self._before
        return self._onsets[index][2]
