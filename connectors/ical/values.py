"""Value types that serialise exactly as RFC 5545 (and Almanac) needs.

icalendar's own classes are used everywhere, subclassed only where their
output differs from what a lossless round trip needs:

* `TextValue`: icalendar's TEXT escaping first turns a literal ``\\N`` into
  ``\\n`` (so the text ``a\\Nb`` would come back as ``a\\nb``); this escapes
  exactly RFC 5545 section 3.3.11: backslash, semicolon, comma, newline.
* `RecurText`: a parsed ``vRecur`` (usable in process) that is written
  verbatim, because vRecur reorders the rule parts and Almanac stores the
  rule string as given.
* `MinutesBefore`: a reminder TRIGGER written as ``-PT<minutes>M``.
* `TextParameters`: free-text parameter values are quoted, so leading and
  trailing blanks survive lenient parsers (icalendar's included), which
  strip blanks around unquoted ``;`` and ``=``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta

from icalendar.parser import Parameters, unescape_backslash
from icalendar.prop import vCategory, vDuration, vRecur, vText, vUnknown

from .rfc import X

__all__ = [
    "MinutesBefore",
    "RecurText",
    "TextParameters",
    "TextValue",
    "categories_value",
    "clean_text",
    "escape_text",
    "recur_text",
    "text_of",
]

# Control characters are not allowed in TEXT (RFC 5545 section 3.3.11:
# "TSAFE-CHAR ... any character except CONTROLs"), except HTAB; newlines are
# escaped as \n. They are dropped so the output stays valid.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ESCAPES = {"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n"}
_ESCAPE_RE = re.compile(r"[\\;,\n]")
# An RRULE is written verbatim only if it cannot break the content line.
_SAFE_RECUR = re.compile(r"[A-Za-z0-9=;,:+\-]+")


class TextParameters(Parameters):
    """Parameters whose free-text values are quoted (see module docstring)."""

    always_quoted = (*Parameters.always_quoted, X.COMMENT, X.ID, X.KEY, X.FILENAME)  # type: ignore[assignment]
    quote_also = {**Parameters.quote_also, "CN": " \t'"}


def clean_text(text: str) -> str:
    """Normalise line breaks to LF and drop other control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", text)


def escape_text(text: str) -> str:
    return _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(0)], clean_text(text))


class TextValue(vText):
    """A TEXT value escaped exactly per RFC 5545 section 3.3.11."""

    def to_ical(self) -> bytes:
        return escape_text(str(self)).encode("utf-8")


def categories_value(categories: Iterable[str]) -> vCategory:
    """One CATEGORIES property; commas inside a category are escaped."""
    value = vCategory([])
    value.cats = [TextValue(c) for c in categories]
    return value


class RecurText(vRecur):
    """A RECUR value that serialises as the text it was made from."""

    def __init__(self, text: str) -> None:
        super().__init__(vRecur.from_ical(text))
        self._verbatim = text

    def to_ical(self) -> bytes:
        return self._verbatim.encode("ascii")


def recur_text(rule: str) -> vRecur:
    """The RRULE value for a stored rule string (``RRULE:`` prefix allowed).

    Raises ValueError if icalendar cannot parse it.
    """
    rule = rule.strip()
    if rule[:6].upper() == "RRULE:":
        rule = rule[6:]
    if _SAFE_RECUR.fullmatch(rule):
        return RecurText(rule)
    # Anything unusual is re-serialised by icalendar: it can hold no line
    # breaks or other characters that could inject content lines.
    parsed: vRecur = vRecur.from_ical(rule)
    return parsed


class MinutesBefore(vDuration):
    """A TRIGGER ``minutes`` before the start, written ``-PT<minutes>M``."""

    def __init__(self, minutes: int) -> None:
        super().__init__(timedelta(minutes=-minutes))
        self.minutes = minutes

    def to_ical(self) -> bytes:
        return f"-PT{self.minutes}M".encode("ascii")


def text_of(value: object) -> str:
    """The text of a TEXT-like property value, however it was parsed.

    X- properties are UNKNOWN values to icalendar (RFC 7265), which keeps
    them escaped; they are unescaped here as Almanac writes them as TEXT.
    """
    if isinstance(value, vUnknown):
        return str(unescape_backslash(str(value)))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
