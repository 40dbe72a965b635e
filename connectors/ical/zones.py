"""TZID parameter values -> IANA zone names, for import.

Almanac stores IANA names only, and files name zones many ways. In order:

1. an IANA name (also case-insensitively: ``europe/berlin``);
2. a Windows name (Outlook, Exchange: ``W. Europe Standard Time``), through
   the CLDR table icalendar ships;
3. a "globally unique" TZID with a vendor prefix (libical, Lightning:
   ``/mozilla.org/20050126_1/America/New_York``): the IANA name it ends in;
4. the document's own VTIMEZONE for the TZID (a custom or renamed zone like
   ``America/New_York-1`` or ``(UTC-05:00) Eastern Time``): the IANA zone
   with the same UTC offsets throughout the years the document uses it
   (compared daily, and hourly around each change), preferring a name the
   TZID or X-LIC-LOCATION contains, then widely used zones, then the zones
   Windows names map to (one well-known zone per region). If only the
   change dates match, not the hours, the first such zone is taken;
5. else that VTIMEZONE itself, evaluated from its own rules (`custom`,
   see `customzone`), with the closest IANA zone as its stand-in.

A known name wins over the VTIMEZONE, as in icalendar: a VTIMEZONE that
disagrees with tzdata for ``Europe/Berlin`` is out of date, not a new zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from .customzone import CustomZone, build_custom, fixed_standin
from .observances import Observances
from .times import UnknownZone

__all__ = ["ZoneResolver", "known_zones"]

_MAX_YEARS = 30
# Zones that share their rules with others (New York with Detroit, Nassau,
# Toronto, ...) are tried first, so a renamed zone gets the familiar name.
_COMMON_ZONES = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
    "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Toronto",
    "America/Mexico_City", "America/Sao_Paulo", "Europe/London", "Europe/Berlin",
    "Europe/Paris", "Europe/Athens", "Europe/Moscow", "Asia/Dubai", "Asia/Kolkata",
    "Asia/Shanghai", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland", "UTC",
)  # fmt: skip


@lru_cache(maxsize=1)
def known_zones() -> dict[str, str]:
    """Every IANA zone name, by its lower-case form."""
    names = {
        name
        for name in available_timezones()
        if not name.startswith(("posix/", "right/")) and name not in {"localtime", "Factory"}
    }
    return {name.lower(): name for name in sorted(names)}


@lru_cache(maxsize=1)
def _preference() -> tuple[str, ...]:
    zones = known_zones()
    common = [z for z in _COMMON_ZONES if z.lower() in zones]
    primary = sorted({zones[z.lower()] for z in WINDOWS_TO_OLSON.values() if z.lower() in zones})
    primary = [z for z in primary if z not in common]
    rest = [z for z in zones.values() if z not in common and z not in primary]
    # Geographic names first; Etc/GMT+5 and legacy names like EST5EDT last.
    rest.sort(key=lambda z: ("/" not in z or z.startswith("Etc/"), z))
    return (*common, *primary, *rest)


def _by_name(tzid: str) -> str | None:
    zones = known_zones()
    cleaned = tzid.strip().strip('"').strip()
    found = zones.get(cleaned.lower())
    if found:
        return found
    windows = WINDOWS_TO_OLSON.get(cleaned)
    if windows and windows.lower() in zones:
        return zones[windows.lower()]
    if cleaned.startswith("/"):
        parts = cleaned.strip("/").split("/")
        for start in range(1, len(parts)):
            found = zones.get("/".join(parts[start:]).lower())
            if found:
                return found
    return None


Offsets = Callable[[datetime], timedelta | None]


def _zoneinfo(zone: tzinfo) -> Offsets:
    return lambda at: at.replace(tzinfo=UTC).astimezone(zone).utcoffset()


def _samples(
    offsets: Offsets, start: date, days: int, step: timedelta
) -> Iterator[timedelta | None]:
    # Noon UTC is far from the night-time changes of nearly every zone, so
    # daily samples tell zones apart by the date of every change without
    # any fold ambiguity; hourly samples around each change then the hour.
    at = datetime(start.year, start.month, start.day, 12)
    for index in range(int(days * (timedelta(days=1) / step))):
        yield offsets(at + index * step)


def _daily(offsets: Offsets, start: date, days: int) -> Iterator[timedelta | None]:
    return _samples(offsets, start, days, timedelta(days=1))


def _around(offsets: Offsets, start: date, day: int) -> list[timedelta | None]:
    """Hourly offsets over the 24 hours before the noon sample of ``day``."""
    return list(_samples(offsets, start + timedelta(days=day - 1), 1, timedelta(hours=1)))


class ZoneResolver:
    """Resolves the TZIDs of one VCALENDAR.

    ``vtimezones`` maps each VTIMEZONE's TZID to its (icalendar) component,
    ``lines`` to its BEGIN line (for messages), and ``usage`` to the first
    and last year a value uses it (the years compared when matching).
    """

    def __init__(
        self,
        vtimezones: Mapping[str, Any] | None = None,
        *,
        lines: Mapping[str, int] | None = None,
        usage: Mapping[str, tuple[int, int]] | None = None,
    ) -> None:
        self._vtimezones = dict(vtimezones or {})
        self._lines = dict(lines or {})
        self._usage = dict(usage or {})
        self._cache: dict[str, str | UnknownZone] = {}
        self._custom: dict[str, CustomZone | None] = {}

    @classmethod
    def from_calendar(cls, calendar: Any) -> ZoneResolver:
        """For an icalendar ``Calendar`` (for example from CalDAV)."""
        return cls({str(tz["TZID"]): tz for tz in calendar.walk("VTIMEZONE") if "TZID" in tz})

    def resolve(self, tzid: str) -> str:
        """The IANA name for ``tzid``; raises UnknownZone with the reason."""
        cached = self._cache.get(tzid)
        if cached is None:
            try:
                cached = self._resolve(tzid)
            except UnknownZone as exc:
                cached = exc
            self._cache[tzid] = cached
        if isinstance(cached, UnknownZone):
            raise cached
        return cached

    def custom(self, tzid: str) -> CustomZone | None:
        """The document's own zone for a TZID no IANA zone matches, or None
        when it has no usable VTIMEZONE."""
        if tzid not in self._custom:
            self._custom[tzid] = self._build_custom(tzid)
        return self._custom[tzid]

    def _build_custom(self, tzid: str) -> CustomZone | None:
        vtimezone = self._vtimezones.get(tzid)
        if vtimezone is None:
            return None
        years = self._usage.get(tzid, (datetime.now(UTC).year,) * 2)
        try:
            probe = build_custom(tzid, vtimezone, years, "UTC")
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            return None
        return build_custom(tzid, vtimezone, years, self._standin(tzid, vtimezone, probe, years))

    def _standin(self, tzid: str, vtimezone: Any, zone: CustomZone, years: tuple[int, int]) -> str:
        # The first candidate with the same offsets in January and July of
        # the first year used; else a fixed offset.
        samples = [datetime(years[0], month, 15, 12, tzinfo=UTC) for month in (1, 7)]
        wanted = [at.astimezone(zone.info).utcoffset() for at in samples]
        for name in self._candidates(tzid, vtimezone):
            info = ZoneInfo(name)
            if [at.astimezone(info).utcoffset() for at in samples] == wanted:
                return name
        return fixed_standin(wanted[0] or timedelta(0))

    def _where(self, tzid: str) -> str:
        line = self._lines.get(tzid)
        return f"the VTIMEZONE at line {line}" if line else "its VTIMEZONE"

    def _resolve(self, tzid: str) -> str:
        found = _by_name(tzid)
        if found:
            return found
        vtimezone = self._vtimezones.get(tzid)
        if vtimezone is None:
            raise UnknownZone(
                f"unknown time zone {tzid!r}: not an IANA or Windows zone name,"
                " and the document has no VTIMEZONE for it"
            )
        first, last = self._usage.get(tzid, (datetime.now(UTC).year,) * 2)
        # A series goes on after its last written date: one more year.
        last = min(max(last, first) + 1, first + _MAX_YEARS)
        start = date(first, 1, 1)
        days = (date(last + 1, 1, 1) - start).days
        try:
            window = (datetime(first, 1, 1), datetime(last + 1, 1, 1))
            custom: Offsets = Observances(vtimezone, *window).utcoffset
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise UnknownZone(f"{self._where(tzid)} ({tzid!r}) cannot be used: {exc}") from exc
        reference = list(_daily(custom, start, days))
        changes = {
            d: _around(custom, start, d) for d in range(1, days) if reference[d] != reference[d - 1]
        }
        same_dates: str | None = None
        for name in self._candidates(tzid, vtimezone):
            candidate = _zoneinfo(ZoneInfo(name))
            daily = _daily(candidate, start, days)
            if not all(a == b for a, b in zip(daily, reference, strict=True)):
                continue
            if all(_around(candidate, start, d) == hourly for d, hourly in changes.items()):
                return name
            same_dates = same_dates or name
        if same_dates:
            return same_dates
        raise UnknownZone(
            f"time zone {tzid!r} ({self._where(tzid)}) matches no IANA zone"
            f" in {first}-{last}; use an IANA zone name"
        )

    def _candidates(self, tzid: str, vtimezone: Any) -> Iterator[str]:
        zones = known_zones()
        lic = str(vtimezone.get("X-LIC-LOCATION", "")).strip().lower()
        if lic in zones:
            yield zones[lic]
        lowered = tzid.lower()
        named = [z for key, z in zones.items() if "/" in key and key in lowered]
        yield from sorted(named, key=len, reverse=True)
        yield from _preference()
