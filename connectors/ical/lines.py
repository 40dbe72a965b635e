"""The structural pass: content lines with their original line numbers.

icalendar is lenient and reports no positions, so before anything is
interpreted this pass checks what it can on its own, remembering for every
logical (unfolded) line the physical line it starts on:

* the size and component-count limits;
* UTF-8 (checked per logical line, after unfolding at the byte level, so a
  multi-byte character split by a fold is accepted but a bad byte is located
  to its physical line);
* the ``name[;param=value...]:value`` shape of every line, split here by
  the RFC 5545 grammar (section 3.1): parameter values are plain or quoted
  text with RFC 6868 ``^`` escapes and no backslash escapes (icalendar's
  splitter reads ``\\,`` in a parameter as an escaped comma);
* BEGIN/END nesting and matching, and nothing outside ``VCALENDAR``.

Line shape and encoding problems skip the line and carry on, so that one
run reports them all; nesting problems make the tree unreliable, so
`Scan.structural` tells the caller to stop after this pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from icalendar.parser import Parameters

from .problems import Problems
from .rfc import MAX_COMPONENTS, MAX_ICS_BYTES

__all__ = ["Block", "Prop", "Scan", "scan", "split_line"]

# Components that only live directly inside VCALENDAR: seeing one deeper
# almost always means the previous component's END line is missing.
_CALENDAR_CHILDREN = frozenset({"VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VTIMEZONE"})
_BOM = b"\xef\xbb\xbf"
_NAME = re.compile(r"[A-Za-z0-9-]+")
_BLANKS = re.compile(r"[ \t]*")
_PARAMTEXT = re.compile(r'[^";:]*')  # commas too: TZID=(UTC+01:00) Amsterdam, Berlin
_PARAMTEXT_LIST = re.compile(r'[^";:,]*')
# Parameters whose value is a list (RFC 5545 section 3.2); the others keep
# commas, as producers rarely quote TZIDs with commas in them.
_LIST_PARAMETERS = frozenset({"MEMBER", "DELEGATED-TO", "DELEGATED-FROM"})
_CARETS = re.compile(r"\^[n^']")
_CARET_VALUES = {"^n": "\n", "^^": "^", "^'": '"'}


@dataclass(slots=True)
class Prop:
    """One property line: name (upper case), parameters, raw value."""

    line: int
    name: str
    params: Parameters
    raw: str
    text: str


@dataclass(slots=True)
class Block:
    """A component between BEGIN and END, with its properties and children."""

    name: str
    line: int
    props: list[Prop] = field(default_factory=list)
    children: list[Block] = field(default_factory=list)


@dataclass(slots=True)
class Scan:
    calendars: list[Block]
    # True when BEGIN/END structure was broken: the tree is a best guess.
    structural: bool = False


@dataclass(slots=True)
class _Logical:
    line: int
    data: bytearray
    # (offset in data, physical line) of every fold, to locate a bad byte.
    folds: list[tuple[int, int]]

    def line_at(self, offset: int) -> int:
        line = self.line
        for start, physical in self.folds:
            if start <= offset:
                line = physical
        return line


def _unfold(data: bytes, problems: Problems) -> list[_Logical]:
    logical: list[_Logical] = []
    # RFC 5545 lines end in CRLF; bare LF is accepted as many producers
    # write it. Folding is undone on bytes, before decoding: producers that
    # count octets may split a multi-byte UTF-8 character across a fold.
    for number, physical in enumerate(data.split(b"\n"), start=1):
        if physical.endswith(b"\r"):
            physical = physical[:-1]
        if not physical:
            continue  # empty lines are not content; icalendar skips them too
        if physical[:1] in (b" ", b"\t"):
            if not logical:
                problems.add(number, "continuation line (starting with a space) before any line")
                continue
            current = logical[-1]
            current.folds.append((len(current.data), number))
            current.data += physical[1:]
            continue
        logical.append(_Logical(number, bytearray(physical), []))
    return logical


def _decode(item: _Logical, problems: Problems) -> str | None:
    try:
        return item.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = item.data[exc.start]
        problems.add(item.line_at(exc.start), f"not valid UTF-8 (byte 0x{bad:02X})")
        return None


def _param_values(text: str, pos: int, name: str) -> tuple[list[str], int]:
    values: list[str] = []
    plain = _PARAMTEXT_LIST if name in _LIST_PARAMETERS else _PARAMTEXT
    while True:
        if text.startswith('"', pos):
            end = text.find('"', pos + 1)
            if end < 0:
                raise ValueError(f"the quoted value of parameter {name} is not closed")
            values.append(text[pos + 1 : end])
            pos = end + 1
        else:
            match = plain.match(text, pos)
            assert match is not None  # the pattern matches the empty string
            values.append(match.group(0))
            pos = match.end()
        if not text.startswith(",", pos):
            return [_CARETS.sub(lambda m: _CARET_VALUES[m.group(0)], v) for v in values], pos
        pos += 1


def split_line(text: str) -> tuple[str, Parameters, str]:
    """``(NAME, parameters, raw value)``; raises ValueError naming the flaw."""
    match = _NAME.match(text)
    if match is None:
        raise ValueError("a line must start with a property name")
    name, pos = match.group(0).upper(), match.end()
    params = Parameters()
    while text.startswith(";", pos):
        pos = _BLANKS.match(text, pos + 1).end()  # type: ignore[union-attr]
        match = _NAME.match(text, pos)
        if match is None or not text.startswith("=", match.end()):
            raise ValueError(f"{name} has a parameter without NAME=VALUE")
        param = match.group(0).upper()
        values, pos = _param_values(text, match.end() + 1, param)
        params[param] = values[0] if len(values) == 1 else values
    if not text.startswith(":", pos):
        raise ValueError(f"expected ':' after {text[:pos]!r}")
    return name, params, text[pos + 1 :]


def _parse(line: int, text: str, problems: Problems) -> Prop | None:
    try:
        name, params, raw = split_line(text)
    except ValueError as exc:
        shown = text if len(text) <= 50 else text[:47] + "..."
        problems.add(line, f"not a NAME[;PARAM=VALUE]:VALUE line ({exc}): {shown!r}")
        return None
    return Prop(line, name, params, raw, text)


class _Builder:
    """BEGIN/END matching with recovery, so one run finds every problem."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.calendars: list[Block] = []
        self.stack: list[Block] = []
        self.structural = False
        self.components = 0

    def fail(self, line: int, message: str) -> None:
        self.structural = True
        self.problems.add(line, message)

    def unclosed(self, block: Block, before: int | None) -> None:
        where = f" before line {before}" if before else ""
        self.fail(
            block.line, f"BEGIN:{block.name} is never closed (END:{block.name} missing{where})"
        )

    def begin(self, prop: Prop) -> bool:
        name = prop.raw.strip().upper()
        if not name:
            self.fail(prop.line, "BEGIN without a component name")
            return True
        self.components += 1
        if self.components > MAX_COMPONENTS:
            self.fail(prop.line, f"more than {MAX_COMPONENTS} components (the limit)")
            return False
        block = Block(name, prop.line)
        if not self.stack:
            if name != "VCALENDAR":
                self.fail(prop.line, f"BEGIN:{name} outside BEGIN:VCALENDAR ... END:VCALENDAR")
            else:
                self.calendars.append(block)
        elif name == "VCALENDAR":
            self.fail(prop.line, f"VCALENDAR cannot be nested inside {self.stack[-1].name}")
        elif name in _CALENDAR_CHILDREN and self.stack[-1].name != "VCALENDAR":
            # Recover as if the missing END lines were there.
            while len(self.stack) > 1 and self.stack[-1].name != "VCALENDAR":
                self.unclosed(self.stack.pop(), prop.line)
            if self.stack[-1].name != "VCALENDAR":
                self.fail(prop.line, f"{name} must be directly inside VCALENDAR")
        if self.stack:
            self.stack[-1].children.append(block)
        self.stack.append(block)
        return True

    def end(self, prop: Prop) -> None:
        name = prop.raw.strip().upper()
        open_names = [block.name for block in self.stack]
        if name not in open_names:
            self.fail(prop.line, f"END:{name} without a matching BEGIN:{name}")
            return
        while self.stack[-1].name != name:
            self.unclosed(self.stack.pop(), prop.line)
        self.stack.pop()

    def property(self, prop: Prop) -> None:
        if not self.stack:
            self.fail(prop.line, f"{prop.name} outside BEGIN:VCALENDAR ... END:VCALENDAR")
            return
        self.stack[-1].props.append(prop)


def scan(data: bytes, problems: Problems) -> Scan:
    """Split ``data`` into VCALENDAR blocks, recording problems by line."""
    if len(data) > MAX_ICS_BYTES:
        problems.add(None, f"the document is {len(data)} bytes; at most 16 MiB are accepted")
        return Scan([], structural=True)
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    builder = _Builder(problems)
    for item in _unfold(data, problems):
        text = _decode(item, problems)
        if text is None:
            continue
        prop = _parse(item.line, text, problems)
        if prop is None:
            continue
        if prop.name == "BEGIN":
            if not builder.begin(prop):
                builder.stack.clear()  # the limit says it all; no "never closed" noise
                break
        elif prop.name == "END":
            builder.end(prop)
        else:
            builder.property(prop)
    while builder.stack:
        builder.unclosed(builder.stack.pop(), None)
    if not builder.calendars and not builder.structural:
        builder.fail(1, "no BEGIN:VCALENDAR: this is not an iCalendar document")
    return Scan(builder.calendars, builder.structural)
