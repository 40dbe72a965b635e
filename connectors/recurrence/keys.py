"""Instance ids: ``{series id}_{original start}``.

The EventService contract fixes the suffix: ``YYYYMMDDTHHMMSSZ`` (UTC) for
timed series, ``YYYYMMDD`` for all-day ones; floating series, which have no
instant, use their wall clock ``YYYYMMDDTHHMMSS`` (no ``Z``), the RFC 5545
form of a floating DATE-TIME. The suffix is the instance's identity, so it
must not change when a reader's zone does: it is built from the UTC instant,
the date, or the wall clock, never from a zone-dependent rendering.

An instance id is parsed back with `split_instance_id`; whether the parsed
start is a real occurrence is `connectors.recurrence.expand.is_occurrence`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Final

from connectors.recurrence.times import TimeValue

__all__ = ["occurrence_key", "parse_instance_suffix", "split_instance_id"]

_SUFFIX_RE: Final = re.compile(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?")


def occurrence_key(original_start: TimeValue) -> str:
    """The instance-id suffix of an occurrence's original start."""
    v = original_start
    if not isinstance(v, datetime):
        return f"{v.year:04d}{v.month:02d}{v.day:02d}"
    z = ""
    if v.tzinfo is not None:
        v = v.astimezone(UTC)
        z = "Z"
    return f"{v.year:04d}{v.month:02d}{v.day:02d}T{v.hour:02d}{v.minute:02d}{v.second:02d}{z}"


def parse_instance_suffix(suffix: str) -> TimeValue:
    """The original start of a suffix: a `date`, an aware UTC or a naive datetime.

    `ValueError` when it is not one of the three forms or not a real date.
    """
    m = _SUFFIX_RE.fullmatch(suffix)
    if m is None:
        raise ValueError(f"invalid instance suffix {suffix!r}")
    y, mo, d, h, mi, s, z = m.groups()
    try:
        if h is None:
            return date(int(y), int(mo), int(d))
        value = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
    except ValueError:
        raise ValueError(f"invalid instance suffix {suffix!r}") from None
    return value.replace(tzinfo=UTC) if z else value


def split_instance_id(event_id: str) -> tuple[str, TimeValue] | None:
    """``(series id, original start)`` of an instance id, or None.

    The split is at the last ``_``. Series ids may contain ``_`` too, so an
    id like ``standup_20260301`` is ambiguous: callers look the whole id up
    first and only then try it as an instance.
    """
    series_id, sep, suffix = event_id.rpartition("_")
    if not sep or not series_id:
        return None
    try:
        return series_id, parse_instance_suffix(suffix)
    except ValueError:
        return None
