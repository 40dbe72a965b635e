"""Scanned blocks -> icalendar components, remembering every value's line.

This mirrors what ``icalendar.Component.from_ical`` does per property (same
type factory, same unescaping, CATEGORIES split on unescaped commas), with
three differences:

* a value that does not parse is a problem on its line when Almanac reads
  that property (`rfc.STRICT_PROPERTIES`), and opaque text otherwise; the
  component keeps a ``vBroken`` in its place, as icalendar's own lenient
  parser does, so that later passes know it was there;
* DATE-TIME values with a TZID are parsed *without* resolving it: the
  resolution is `zones.ZoneResolver`'s (Windows names, custom VTIMEZONEs),
  and icalendar's resolution caches custom VTIMEZONEs process-wide, which
  must not leak from one user's import into the next;
* RRULE values keep their exact text (`values.RecurText`).
"""

from __future__ import annotations

from typing import Any

from icalendar import Component
from icalendar.parser import split_on_unescaped_comma, unescape_backslash
from icalendar.prop import TypesFactory, vBroken, vCategory, vUnknown

from .lines import Block, Prop
from .problems import Located, Problems
from .rfc import STRICT_PROPERTIES
from .values import RecurText

__all__ = ["build", "invalid_value"]

_TYPES: Any = TypesFactory.instance()
_RECUR = frozenset({"RRULE", "EXRULE"})


def _component(name: str) -> Any:
    component: Any = Component.get_component_class(name)()
    if not getattr(component, "name", ""):
        component.name = name  # an X- or IANA component icalendar does not know
    return component


def _value(prop: Prop) -> Any:
    """The parsed value; raises ValueError (or TypeError) if it is invalid."""
    if prop.name == "CATEGORIES":
        return vCategory(split_on_unescaped_comma(prop.raw))
    if prop.name in _RECUR:
        recur = RecurText(prop.raw)
        if not recur.get("FREQ"):
            raise ValueError("FREQ is missing")
        return recur
    factory = _TYPES.for_property(prop.name, prop.params.get("VALUE"))
    if hasattr(factory, "get_value_from_content_line"):
        text = prop.raw  # UNKNOWN values are kept verbatim (RFC 7265)
    else:
        text = unescape_backslash(prop.raw)
    if prop.name == "RDATE" and not text:
        return None  # an empty RDATE, seen in the wild, means nothing
    return factory(factory.from_ical(text))


def _expected(prop: Prop) -> str:
    value_type = prop.params.get("VALUE")
    if value_type:
        return str(value_type).upper()
    default = _TYPES.default_value_type(prop.name.lower())
    return str(default).upper()


def invalid_value(broken: vBroken) -> str:
    """The problem description of a value that did not parse.

    Shared with `decode`, which meets the same ``vBroken`` again: identical
    descriptions on the same line are reported once.
    """
    raw = str(broken)
    shown = raw if len(raw) <= 60 else raw[:57] + "..."
    detail = str(broken.parse_error).split("\n", 1)[0][:120]
    name, expected = broken.property_name, str(broken.expected_type).upper()
    return f"{name}: invalid {expected} value {shown!r} ({detail})"


def build(block: Block, located: Located, problems: Problems) -> Any:
    """The icalendar component for ``block`` and its children."""
    component = _component(block.name)
    located.mark(component, block.line)
    for prop in block.props:
        try:
            value = _value(prop)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            if prop.name in STRICT_PROPERTIES:
                value = vBroken.from_parse_error(
                    prop.raw, prop.params, prop.name, _expected(prop), exc
                )
                problems.add(prop.line, invalid_value(value))
            else:
                value = vUnknown(prop.raw)
        if value is None:
            continue
        value.params = prop.params
        located.mark(value, prop.line)
        component.add(prop.name, value, encode=False)
    for child in block.children:
        component.add_component(build(child, located, problems))
    return component
