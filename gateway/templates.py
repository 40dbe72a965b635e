"""HttpRule path templates: parse, compile to one regex, match a request path.

The grammar is the one of ``google/api/http.proto``::

    Template = "/" Segments [ Verb ] ;
    Segments = Segment { "/" Segment } ;
    Segment  = "*" | "**" | LITERAL | Variable ;
    Variable = "{" FieldPath [ "=" Segments ] "}" ;
    Verb     = ":" LITERAL ;

Matching works on the *raw* (still percent-encoded) path so that an encoded
``/`` inside a single-segment variable never splits it. Values are decoded
after the match: fully for a single-segment variable, and everything except
``%2F`` for a multi-segment one, as http.proto prescribes (the value keeps
its structure, e.g. a resource name whose ids contain slashes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

__all__ = ["Match", "PathTemplate", "TemplateError", "parse_template"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_LITERAL = re.compile(r"[^/{}*:=]+")
_ENCODED_SLASH = re.compile("%2F", re.IGNORECASE)


class TemplateError(ValueError):
    """A path template that does not follow the HttpRule grammar."""


@dataclass(frozen=True, slots=True)
class Variable:
    """A ``{field.path=segments}`` variable: where it sits and what it matches."""

    field_path: str
    segments: tuple[str, ...]  # "*", "**" or literals of its sub-template

    @property
    def multi_segment(self) -> bool:
        return len(self.segments) > 1 or "**" in self.segments


@dataclass(frozen=True, slots=True)
class Match:
    """The variables bound by one matched path, decoded, by field path."""

    variables: dict[str, str]


class PathTemplate:
    """A compiled template; ``match(raw_path)`` returns the bound variables or None."""

    __slots__ = ("literal_count", "regex", "source", "variables", "verb")

    def __init__(self, source: str, parts: list[str | Variable], verb: str) -> None:
        self.source = source
        self.verb = verb
        self.variables = tuple(p for p in parts if isinstance(p, Variable))
        pattern = "/".join(_part_regex(p) for p in parts)
        suffix = re.escape(":" + verb) if verb else ""
        self.regex = re.compile(f"/{pattern}{suffix}")
        # More literals = more specific; used to order candidate routes.
        self.literal_count = sum(
            1 if isinstance(p, str) and p not in ("*", "**") else
            sum(1 for s in p.segments if s not in ("*", "**")) if isinstance(p, Variable) else 0
            for p in parts
        )  # fmt: skip

    def match(self, raw_path: str) -> Match | None:
        found = self.regex.fullmatch(raw_path)
        if found is None:
            return None
        values: dict[str, str] = {}
        for var, raw in zip(self.variables, found.groups(), strict=True):
            values[var.field_path] = _decode(raw, var.multi_segment)
        return Match(values)

    def expand(self, values: dict[str, str]) -> str:
        """The path for these variable values (the inverse of `match`)."""
        out = self.source.split(":")[0] if self.verb else self.source
        for var in self.variables:
            value = values[var.field_path]
            safe = "/" if var.multi_segment else ""
            encoded = quote(value, safe=safe + "-_.~")
            out = re.sub(r"\{" + re.escape(var.field_path) + r"(=[^}]*)?\}", encoded, out, count=1)
        return out + (":" + self.verb if self.verb else "")

    def __repr__(self) -> str:
        return f"PathTemplate({self.source!r})"


def _segment_regex(segment: str) -> str:
    if segment == "*":
        return "[^/]+"
    if segment == "**":
        return ".+"
    return re.escape(quote(segment, safe="-_.~!$&'()*+,;=:@"))


def _part_regex(part: str | Variable) -> str:
    if isinstance(part, Variable):
        return "(" + "/".join(_segment_regex(s) for s in part.segments) + ")"
    # A bare "*" or "**" binds nothing (no field path), so it is not captured.
    return _segment_regex(part)


def _decode(raw: str, multi_segment: bool) -> str:
    if not multi_segment:
        return unquote(raw)
    return "%2F".join(unquote(piece) for piece in _ENCODED_SLASH.split(raw))


def _parse_segments(text: str, source: str, *, in_variable: bool) -> list[str | Variable]:
    parts: list[str | Variable] = []
    pos = 0
    while True:
        if text.startswith("{", pos):
            if in_variable:
                raise TemplateError(f"nested variable in {source!r}")
            end = text.find("}", pos)
            if end < 0:
                raise TemplateError(f"unclosed variable in {source!r}")
            parts.append(_parse_variable(text[pos + 1 : end], source))
            pos = end + 1
        else:
            end = text.find("/", pos)
            end = len(text) if end < 0 else end
            segment = text[pos:end]
            if segment not in ("*", "**") and not _LITERAL.fullmatch(segment):
                raise TemplateError(f"bad segment {segment!r} in {source!r}")
            parts.append(segment)
            pos = end
        if pos == len(text):
            return parts
        if text[pos] != "/":
            raise TemplateError(f"expected '/' at {pos} in {source!r}")
        pos += 1


def _parse_variable(body: str, source: str) -> Variable:
    field_path, _, sub = body.partition("=")
    if not _IDENT.fullmatch(field_path):
        raise TemplateError(f"bad field path {field_path!r} in {source!r}")
    segments = _parse_segments(sub, source, in_variable=True) if sub else ["*"]
    return Variable(field_path, tuple(str(s) for s in segments))


def parse_template(source: str) -> PathTemplate:
    """Parse and compile one HttpRule path template."""
    if not source.startswith("/"):
        raise TemplateError(f"template must start with '/': {source!r}")
    path, verb = source[1:], ""
    # The verb is a ":" after the last "/" that is outside every variable.
    tail_start = path.rfind("/") + 1
    if "}" in path[tail_start:]:
        tail_start = path.rfind("}") + 1
    colon = path.find(":", tail_start)
    if colon >= 0:
        path, verb = path[:colon], path[colon + 1 :]
        if not _LITERAL.fullmatch(verb):
            raise TemplateError(f"bad verb {verb!r} in {source!r}")
    parts = _parse_segments(path, source, in_variable=False)
    for i, part in enumerate(parts):
        segs = part.segments if isinstance(part, Variable) else (part,)
        last = i == len(parts) - 1
        if "**" in segs and not (last and segs[-1] == "**"):
            raise TemplateError(f"'**' must be the last segment in {source!r}")
    paths = [v.field_path for v in parts if isinstance(v, Variable)]
    if len(paths) != len(set(paths)):
        raise TemplateError(f"a field is bound twice in {source!r}")
    return PathTemplate(source, parts, verb)
