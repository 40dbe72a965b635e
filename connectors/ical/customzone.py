"""A document's own VTIMEZONE as a time zone, when no IANA zone matches it.

Outlook's ``(UTC-03:00) Brasília``, Exchange's ``Customized Time Zone 1``
and RFC 2445's own ``US-Eastern`` example define zones whose rules follow
no tz database zone over the years the file uses them. RFC 5545 section
3.2.19 makes the VTIMEZONE the definition of its TZID, so such a zone is
evaluated from its own rules (`VTimezoneInfo`): every value's instant is
exact. Almanac's API names zones by IANA id, so the event also gets a
stand-in zone (`CustomZone.standin`, the closest IANA zone, for clients and
for the expansion of a series), and keeps the VTIMEZONE text in the custom
property `KEY` so that an export writes the file's own zone again with the
same wall-clock times (`encode`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from almanac.v1 import event_service_pb2 as ev_pb

from .observances import Observances

__all__ = ["KEY", "CustomZone", "VTimezoneInfo", "custom_zones_of", "zone_property"]

# CustomProperty key of the VTIMEZONE a custom-zone event was read with.
KEY = "ical.vtimezone"
# CustomProperty values are at most 8 KiB (EventService limits).
_MAX_VALUE = 8192
# Years of rules evaluated around the years a document uses a zone.
_MARGIN_YEARS = 2


class VTimezoneInfo(tzinfo):
    """A tzinfo from a VTIMEZONE's observances (RFC 5545 section 3.6.5).

    Local times follow RFC 5545 section 3.3.5: an ambiguous time is its
    first occurrence, a nonexistent one uses the offset before the gap.
    """

    def __init__(self, tzid: str, observances: Observances) -> None:
        self.tzid = tzid
        self._observances = observances

    def __repr__(self) -> str:
        return f"VTimezoneInfo({self.tzid!r})"

    def _at(self, utc: datetime) -> timedelta:
        return self._observances.utcoffset(utc)

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        if dt is None:
            return None
        wall = dt.replace(tzinfo=None)
        # The offsets in force a day either side cover any change.
        candidates = {self._at(wall - timedelta(days=1)), self._at(wall + timedelta(days=1))}
        valid = sorted((o for o in candidates if self._at(wall - o) == o), reverse=True)
        if valid:
            return valid[0]  # the largest offset is the earliest instant
        return self._at(wall - timedelta(days=1))  # in a gap: the offset before it

    def dst(self, dt: datetime | None) -> timedelta | None:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return self.tzid

    def fromutc(self, dt: datetime) -> datetime:
        utc = dt.replace(tzinfo=None)
        return (utc + self._at(utc)).replace(tzinfo=self)


@dataclass(frozen=True)
class CustomZone:
    """A TZID defined only by the document's own VTIMEZONE."""

    tzid: str
    text: str  # the VTIMEZONE component as ICS text
    info: VTimezoneInfo
    standin: str  # the IANA zone the API shows


def build_custom(tzid: str, vtimezone: Any, years: tuple[int, int], standin: str) -> CustomZone:
    """Raises ValueError (and friends) if the VTIMEZONE cannot be evaluated."""
    first, last = years
    window = (
        datetime(max(first - _MARGIN_YEARS, 2), 1, 1),
        datetime(min(last + _MARGIN_YEARS, 9997), 1, 1),
    )
    info = VTimezoneInfo(tzid, Observances(vtimezone, *window))
    text = vtimezone.to_ical().decode("utf-8")
    return CustomZone(tzid, text, info, standin)


def fixed_standin(offset: timedelta) -> str:
    """An IANA id for a whole-hour offset (``Etc/GMT+3`` is UTC-03:00), else UTC."""
    hours, rest = divmod(int(offset.total_seconds()), 3600)
    if rest or not -12 <= hours <= 14:
        return "UTC"
    if hours == 0:
        return "UTC"
    return f"Etc/GMT{-hours:+d}"


def zone_property(
    zones: dict[str, CustomZone],
) -> tuple[ev_pb.CustomProperty | None, str | None]:
    """The custom property keeping an event's custom zone (the zone of its
    start: one per event), and why it could not be kept, if so. Its value
    is the stand-in zone, a newline and the VTIMEZONE text."""
    for standin, zone in zones.items():
        value = f"{standin}\n{zone.text}"
        if len(value) > _MAX_VALUE:
            return (
                None,
                f"the VTIMEZONE of {zone.tzid!r} is too large to keep; exported as {standin}",
            )
        return ev_pb.CustomProperty(key=KEY, value=value, private=True), None
    return None, None


def custom_zones_of(events: list[Any]) -> dict[str, CustomZone]:
    """The custom zones events carry (`KEY`), by stand-in zone, for export."""
    from icalendar import Calendar

    found: dict[str, CustomZone] = {}
    for event in events:
        for prop in event.custom_properties:
            if prop.key != KEY or not prop.value:
                continue
            standin = prop.value.split("\n", 1)[0].strip()
            if standin in found:
                continue
            body = prop.value.split("\n", 1)[1] if "\n" in prop.value else ""
            try:
                calendar = Calendar.from_ical(f"BEGIN:VCALENDAR\r\n{body}END:VCALENDAR\r\n")
                vtimezone = calendar.walk("VTIMEZONE")[0]
                tzid = str(vtimezone["TZID"])
                now = datetime.now(UTC).year
                found[standin] = build_custom(tzid, vtimezone, (1970, now + 30), standin)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError):
                continue  # unusable: the stand-in zone is exported instead
    return found
