"""RRULE values (RFC 5545 §3.3.10) as data: parse, check and print them.

`parse_rrule` turns one RRULE string into an immutable `RuleSpec`; the
expander builds its generators from the spec, never from the string again,
and `format_rrule` prints a spec back (the split helper rewrites COUNT and
UNTIL that way). The grammar's value ranges and the RFC's "which BYxxx part
applies to which FREQ" table are tables below, the way the icalendar library
keeps its property types as data.

The parser is stricter than dateutil's (a part given twice, COUNT with
UNTIL, BYDAY ordinals with a weekly rule, N/A parts are errors here, as the
RFC says "MUST NOT"); `dateutil_message` gives dateutil's own wording for
the syntax errors it detects, which validation reports first.
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Final

from dateutil.rrule import rrulestr

__all__ = [
    "WEEKDAY_CODES",
    "Freq",
    "RRuleError",
    "RuleSpec",
    "WeekdayNum",
    "dateutil_message",
    "format_rrule",
    "format_until",
    "parse_rrule",
    "strip_prefix",
]


class RRuleError(ValueError):
    """An RRULE string that cannot be parsed or breaks an RFC 5545 MUST."""


class Freq(enum.IntEnum):
    """FREQ values; the numbers are dateutil's (`dateutil.rrule.YEARLY` is 0)."""

    YEARLY = 0
    MONTHLY = 1
    WEEKLY = 2
    DAILY = 3
    HOURLY = 4
    MINUTELY = 5
    SECONDLY = 6


# Index = Python's `date.weekday()` (Monday is 0), which dateutil uses too.
WEEKDAY_CODES: Final = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

# RFC 5545 §3.3.10 grammar: the integer lists and their ranges (lo, hi,
# whether a sign is allowed). BYSECOND=60 (a leap second) is allowed by the
# RFC but no `datetime` can hold it, so it is out of range here.
_INT_LISTS: Final[dict[str, tuple[int, int, bool]]] = {
    "BYSECOND": (0, 59, False),
    "BYMINUTE": (0, 59, False),
    "BYHOUR": (0, 23, False),
    "BYMONTHDAY": (1, 31, True),
    "BYYEARDAY": (1, 366, True),
    "BYWEEKNO": (1, 53, True),
    "BYMONTH": (1, 12, False),
    "BYSETPOS": (1, 366, True),
}

# RFC 5545 §3.3.10, the table of BYxxx parts per FREQ: the "N/A" cells.
_NOT_APPLICABLE: Final[dict[str, frozenset[Freq]]] = {
    "BYWEEKNO": frozenset(f for f in Freq if f is not Freq.YEARLY),
    "BYYEARDAY": frozenset({Freq.DAILY, Freq.WEEKLY, Freq.MONTHLY}),
    "BYMONTHDAY": frozenset({Freq.WEEKLY}),
}

_SCALARS: Final = frozenset({"FREQ", "UNTIL", "COUNT", "INTERVAL", "BYDAY", "WKST"})
_BYDAY_RE: Final = re.compile(r"([+-]?)(\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_UNTIL_RE: Final = re.compile(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?")
_INT_RE: Final = re.compile(r"[+-]?\d{1,9}")


@dataclass(frozen=True, slots=True)
class WeekdayNum:
    """A BYDAY entry: a weekday (0 = Monday) and an optional ordinal (``-1MO``)."""

    weekday: int
    n: int | None = None

    def __str__(self) -> str:
        return f"{'' if self.n is None else self.n}{WEEKDAY_CODES[self.weekday]}"


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One parsed RRULE. Empty tuples mean "part not given".

    ``until`` is a `date`, a naive `datetime` (local time, interpreted in the
    series' zone) or an aware UTC `datetime` (the RFC's ``Z`` form).
    """

    freq: Freq
    interval: int = 1
    count: int | None = None
    until: date | datetime | None = None
    wkst: int | None = None
    bysecond: tuple[int, ...] = ()
    byminute: tuple[int, ...] = ()
    byhour: tuple[int, ...] = ()
    byday: tuple[WeekdayNum, ...] = ()
    bymonthday: tuple[int, ...] = ()
    byyearday: tuple[int, ...] = ()
    byweekno: tuple[int, ...] = ()
    bymonth: tuple[int, ...] = ()
    bysetpos: tuple[int, ...] = ()
    # The text it was parsed from (for messages); not part of equality.
    source: str = field(default="", compare=False)

    @property
    def week_start(self) -> int:
        """WKST as a weekday number; RFC 5545 default MO."""
        return 0 if self.wkst is None else self.wkst

    def with_end(self, *, count: int | None, until: date | datetime | None) -> RuleSpec:
        """A copy with COUNT and UNTIL replaced (at most one of them set)."""
        return replace(self, count=count, until=until, source="")


def strip_prefix(text: str) -> str:
    """The rule without surrounding blanks and an ``RRULE:`` prefix."""
    text = text.strip()
    if text[:6].upper() == "RRULE:":
        text = text[6:].lstrip()
    return text


@functools.lru_cache(maxsize=4096)
def parse_rrule(text: str) -> RuleSpec:
    """Parse one RRULE value (with or without ``RRULE:``); `RRuleError` if bad.

    Cached: the same few rule strings recur across thousands of series.
    """
    body = strip_prefix(text)
    if not body:
        raise RRuleError("empty RRULE")
    if any(c in body for c in "\r\n:"):
        raise RRuleError("one RRULE value per entry, without other properties")
    values: dict[str, str] = {}
    for part in body.split(";"):
        name, sep, value = part.partition("=")
        name = name.strip().upper()
        if not sep or not name or not value:
            raise RRuleError(f"malformed part {part!r} (expected NAME=VALUE)")
        if name not in _SCALARS and name not in _INT_LISTS:
            raise RRuleError(f"unknown part {name}")
        if name in values:
            raise RRuleError(f"{name} given more than once")
        values[name] = value.strip().upper()
    return _build(values, text)


def _build(values: dict[str, str], source: str) -> RuleSpec:
    if "FREQ" not in values:
        raise RRuleError("FREQ is required")
    try:
        freq = Freq[values["FREQ"]]
    except KeyError:
        raise RRuleError(f"unknown FREQ {values['FREQ']}") from None
    if "COUNT" in values and "UNTIL" in values:
        raise RRuleError("COUNT and UNTIL must not both be given (RFC 5545 §3.3.10)")
    ints = {name: _int_list(name, values[name]) for name in _INT_LISTS if name in values}
    for name in ints:
        if freq in _NOT_APPLICABLE.get(name, ()):
            raise RRuleError(f"{name} cannot be used with FREQ={freq.name}")
    byday = _byday(values["BYDAY"]) if "BYDAY" in values else ()
    if any(d.n is not None for d in byday):
        if freq not in (Freq.MONTHLY, Freq.YEARLY):
            raise RRuleError("BYDAY ordinals (like 1MO) need FREQ=MONTHLY or YEARLY")
        if freq is Freq.YEARLY and "BYWEEKNO" in ints:
            raise RRuleError("BYDAY ordinals cannot be combined with BYWEEKNO")
    if "BYSETPOS" in ints and not byday and len(ints) == 1:
        raise RRuleError("BYSETPOS needs another BYxxx part")
    return RuleSpec(
        freq=freq,
        interval=_positive(values, "INTERVAL") or 1,
        count=_positive(values, "COUNT"),
        until=_until(values["UNTIL"]) if "UNTIL" in values else None,
        wkst=_weekday(values["WKST"], "WKST") if "WKST" in values else None,
        byday=byday,
        bysecond=ints.get("BYSECOND", ()),
        byminute=ints.get("BYMINUTE", ()),
        byhour=ints.get("BYHOUR", ()),
        bymonthday=ints.get("BYMONTHDAY", ()),
        byyearday=ints.get("BYYEARDAY", ()),
        byweekno=ints.get("BYWEEKNO", ()),
        bymonth=ints.get("BYMONTH", ()),
        bysetpos=ints.get("BYSETPOS", ()),
        source=source,
    )


def _positive(values: dict[str, str], name: str) -> int | None:
    if name not in values:
        return None
    text = values[name]
    if not text.isdigit() or len(text) > 9 or int(text) < 1:
        raise RRuleError(f"{name} must be a positive integer, not {text!r}")
    return int(text)


def _int_list(name: str, text: str) -> tuple[int, ...]:
    lo, hi, signed = _INT_LISTS[name]
    out: list[int] = []
    for item in text.split(","):
        item = item.strip()
        if not _INT_RE.fullmatch(item) or (item[0] in "+-" and not signed):
            raise RRuleError(f"{name}: invalid value {item!r}")
        n = int(item)
        if not lo <= abs(n) <= hi or (n < 0 and not signed):
            sign = "±" if signed else ""
            raise RRuleError(f"{name}: {n} is out of range ({sign}{lo} to {sign}{hi})")
        if n not in out:
            out.append(n)
    return tuple(sorted(out))


def _weekday(text: str, name: str) -> int:
    try:
        return WEEKDAY_CODES.index(text)
    except ValueError:
        raise RRuleError(f"{name}: invalid weekday {text!r}") from None


def _byday(text: str) -> tuple[WeekdayNum, ...]:
    out: list[WeekdayNum] = []
    for item in text.split(","):
        m = _BYDAY_RE.fullmatch(item.strip())
        if m is None:
            raise RRuleError(f"BYDAY: invalid value {item!r}")
        sign, digits, code = m.groups()
        n: int | None = None
        if digits is not None:
            n = int(digits) * (-1 if sign == "-" else 1)
            if not 1 <= abs(n) <= 53:
                raise RRuleError(f"BYDAY: ordinal {n} is out of range (±1 to ±53)")
        elif sign:
            raise RRuleError(f"BYDAY: invalid value {item!r}")
        day = WeekdayNum(WEEKDAY_CODES.index(code), n)
        if day not in out:
            out.append(day)
    return tuple(sorted(out, key=lambda d: (d.n is not None, d.n or 0, d.weekday)))


def _until(text: str) -> date | datetime:
    m = _UNTIL_RE.fullmatch(text)
    if m is None:
        raise RRuleError(f"UNTIL: invalid date or date-time {text!r}")
    y, mo, d, h, mi, s, z = m.groups()
    try:
        if h is None:
            return date(int(y), int(mo), int(d))
        value = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
    except ValueError:
        raise RRuleError(f"UNTIL: invalid date or date-time {text!r}") from None
    return value.replace(tzinfo=UTC) if z else value


def format_rrule(spec: RuleSpec) -> str:
    """The canonical RRULE text of a spec (FREQ first, no ``RRULE:`` prefix)."""
    parts = [f"FREQ={spec.freq.name}"]
    if spec.interval != 1:
        parts.append(f"INTERVAL={spec.interval}")
    if spec.count is not None:
        parts.append(f"COUNT={spec.count}")
    if spec.until is not None:
        parts.append(f"UNTIL={format_until(spec.until)}")
    for name in ("BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY"):
        _append_ints(parts, name, getattr(spec, name.lower()))
    if spec.byday:
        parts.append("BYDAY=" + ",".join(str(d) for d in spec.byday))
    for name in ("BYHOUR", "BYMINUTE", "BYSECOND", "BYSETPOS"):
        _append_ints(parts, name, getattr(spec, name.lower()))
    if spec.wkst is not None:
        parts.append(f"WKST={WEEKDAY_CODES[spec.wkst]}")
    return ";".join(parts)


def _append_ints(parts: list[str], name: str, values: tuple[int, ...]) -> None:
    if values:
        parts.append(f"{name}=" + ",".join(str(v) for v in values))


def format_until(value: date | datetime) -> str:
    """UNTIL text: ``YYYYMMDD``, local ``YYYYMMDDTHHMMSS`` or UTC ``...Z``."""
    if not isinstance(value, datetime):
        return f"{value.year:04d}{value.month:02d}{value.day:02d}"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    text = (
        f"{value.year:04d}{value.month:02d}{value.day:02d}"
        f"T{value.hour:02d}{value.minute:02d}{value.second:02d}"
    )
    return text + "Z" if value.tzinfo is not None else text


def dateutil_message(text: str) -> str | None:
    """dateutil's error message for an RRULE it cannot parse, else None.

    Run before `parse_rrule` so that clients see the wording of the library
    most of them know. The probe start is aware exactly when UNTIL is UTC,
    because dateutil rejects a mix of the two, which is not a syntax error.
    """
    body = strip_prefix(text)
    until = re.search(r"UNTIL=([0-9TZ]+)", body, re.IGNORECASE)
    aware = bool(until and until.group(1).upper().endswith("Z"))
    probe = datetime(2000, 1, 1, tzinfo=UTC if aware else None)
    if re.search(r"COUNT=", body, re.IGNORECASE) and until:
        return None  # dateutil only warns here; parse_rrule rejects it
    try:
        rrulestr(body, dtstart=probe)
    except (ValueError, TypeError, IndexError, KeyError, OverflowError) as exc:
        return str(exc) or type(exc).__name__
    return None
