"""Finding the UTC offset changes of any tzinfo in a range of time.

zoneinfo does not expose its transitions, and a VTIMEZONE parsed by
dateutil has no listing either, so both the VTIMEZONE writer and the zone
matcher find them by sampling and bisecting to the second. Sampling daily
finds every change except a change and its reversal within one day, which
no zone in the tz database has had in the era calendars care about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

__all__ = ["State", "Transition", "state", "transitions"]

_STEP = timedelta(days=1)
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class State:
    """What a zone says at an instant."""

    offset: timedelta
    dst: bool
    name: str


@dataclass(frozen=True, slots=True)
class Transition:
    at: datetime  # UTC instant of the first second in the new state
    before: State
    after: State

    @property
    def onset(self) -> datetime:
        """Local wall time of the change, in the offset before it (naive).

        This is how RFC 5545 expresses an observance's DTSTART: "the
        effective onset date and local time", with TZOFFSETFROM in effect.
        """
        return (self.at + self.before.offset).replace(tzinfo=None)


def state(tz: tzinfo, at: datetime, *, offsets_only: bool = False) -> State:
    local = at.astimezone(tz)
    offset = local.utcoffset() or timedelta(0)
    if offsets_only:
        return State(offset, False, "")
    return State(offset, bool(local.dst()), local.tzname() or "")


def transitions(
    tz: tzinfo, start: datetime, end: datetime, *, offsets_only: bool = False
) -> list[Transition]:
    """Every change of ``tz`` in ``[start, end)`` (aware datetimes).

    With ``offsets_only`` only UTC offset changes count (what decides
    instants); otherwise a change of DST flag or abbreviation is one too
    (what decides STANDARD vs DAYLIGHT observances and TZNAME).
    """
    found: list[Transition] = []
    at = start.astimezone(UTC)
    end = end.astimezone(UTC)
    current = state(tz, at, offsets_only=offsets_only)
    while at < end:
        nxt = min(at + _STEP, end)
        following = state(tz, nxt, offsets_only=offsets_only)
        if following != current:
            lo, hi = at, nxt
            while hi - lo > _SECOND:
                mid = lo + (hi - lo) // 2
                mid = mid.replace(microsecond=0)
                if state(tz, mid, offsets_only=offsets_only) == current:
                    lo = mid
                else:
                    hi = mid
            found.append(Transition(hi, current, state(tz, hi, offsets_only=offsets_only)))
        at, current = nxt, following
    return found
