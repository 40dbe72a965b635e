"""Windows time-zone names <-> IANA, at the Graph boundary only.

Graph names zones the Windows way ("W. Europe Standard Time"). The mapping
is CLDR's ``windowsZones.xml`` as the ``icalendar`` package ships it
(``icalendar.timezone.windows_to_olson``: territory "001", one IANA zone per
Windows zone). The reverse direction is that table inverted; an IANA zone
that is not a "001" zone (``Europe/Madrid``) maps to the Windows zone whose
"001" zone has the same UTC offset and abbreviation twice a day through the
comparison years, so Graph expands a series across DST as Almanac does.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

__all__ = ["iana_to_windows", "windows_to_iana"]

# Graph's own names for UTC (it answers "UTC" when asked for UTC).
_UTC_NAMES = frozenset({"UTC", "Coordinated Universal Time", "tzone://Microsoft/Utc"})
# Years whose daily offsets must agree for two zones to count as the same.
_COMPARE_YEARS = (2025, 2026, 2027)
_OLSON_TO_WINDOWS = {olson: win for win, olson in sorted(WINDOWS_TO_OLSON.items())}


def windows_to_iana(name: str) -> str | None:
    """The IANA zone of a Graph ``timeZone`` value (Windows or IANA name), or None."""
    if not name or name in _UTC_NAMES:
        return "UTC"
    if name in WINDOWS_TO_OLSON:
        return str(WINDOWS_TO_OLSON[name])
    try:  # Graph also accepts (and may echo) a subset of IANA names
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


@functools.lru_cache(maxsize=512)
def iana_to_windows(name: str) -> str | None:
    """The Windows zone Graph should be given for an IANA zone, or None."""
    if name in ("UTC", "Etc/UTC", "Etc/GMT", "GMT", ""):
        return "UTC"
    if name in _OLSON_TO_WINDOWS:
        return _OLSON_TO_WINDOWS[name]
    try:
        wanted = _offsets(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    quick = _offsets(name, 97)  # a cheap first filter: every 97th sample
    return next(
        (
            w
            for olson, w in _OLSON_TO_WINDOWS.items()
            if _offsets(olson, 97) == quick and _offsets(olson) == wanted
        ),
        None,
    )


@functools.lru_cache(maxsize=1024)
def _offsets(name: str, every: int = 1) -> tuple[tuple[timedelta | None, str | None], ...]:
    # Twice a day, offset and abbreviation (so America/Toronto is Eastern,
    # not Cuba, whose offsets are the same but whose rules are not).
    zone = ZoneInfo(name)
    start = datetime(_COMPARE_YEARS[0], 1, 1, 1, tzinfo=UTC)
    steps = (365 * len(_COMPARE_YEARS) + 1) * 2
    local = ((start + timedelta(hours=12 * h)).astimezone(zone) for h in range(0, steps, every))
    return tuple((t.utcoffset(), t.tzname()) for t in local)
