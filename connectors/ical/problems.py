"""Collecting every problem of a document before failing, with line numbers.

Import is all or nothing, and a user fixing a file wants to see every
problem at once rather than one per attempt, so parsing records problems
here and raises a single `InvalidArgument` at the end: one violation per
problem, field ``ics``, description ``line N: ...`` where N is the 1-based
physical line of the input as sent (what an editor shows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from connectors.errors import InvalidArgument

from .rfc import MAX_VIOLATIONS

__all__ = ["FIELD", "REASON", "ImportWarning", "Located", "Problems", "Unrepresentable", "Warnings"]

FIELD = "ics"
# google.rpc.ErrorInfo.reason of every invalid document; part of the API.
REASON = "INVALID_ICS"


class Located:
    """Remembers the line each parsed component and property value came from.

    Keyed by object identity: the parsed icalendar values are not hashable
    in general and carry no position. The objects are kept alive here so
    that an id can never be reused while the map exists.
    """

    def __init__(self) -> None:
        self._lines: dict[int, int] = {}
        self._keep: list[object] = []

    def mark(self, obj: object, line: int) -> None:
        self._lines[id(obj)] = line
        self._keep.append(obj)

    def line_of(self, obj: object) -> int | None:
        return self._lines.get(id(obj))


class Problems:
    """An ordered set of problems, each optionally tied to a line."""

    def __init__(self, locate: Callable[[object], int | None] | None = None) -> None:
        self.locate = locate
        self._items: list[tuple[int, str]] = []
        self._seen: set[tuple[int, str]] = set()
        self._dropped = 0

    def __bool__(self) -> bool:
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items) + self._dropped

    def add(self, line: int | None, message: str) -> None:
        key = (line or 0, message)
        if key in self._seen:
            return
        if len(self._items) >= MAX_VIOLATIONS:
            self._dropped += 1
            return
        self._seen.add(key)
        self._items.append(key)

    def at(self, obj: object, message: str) -> None:
        """A problem with a parsed value (or component), located if possible."""
        self.add(self.locate(obj) if self.locate is not None else None, message)

    def violations(self) -> list[tuple[str, str]]:
        # Sorted by line so the list reads like the file, whatever order the
        # passes found the problems in; problems without a line go first.
        ordered = sorted(self._items, key=lambda item: item[0])
        result = [(FIELD, f"line {line}: {msg}" if line else msg) for line, msg in ordered]
        if self._dropped:
            result.append((FIELD, f"... and {self._dropped} more problems"))
        return result

    def raise_if_any(self) -> None:
        if not self._items:
            return
        violations = self.violations()
        shown = "; ".join(desc for _, desc in violations[:3])
        more = f" (and {len(violations) - 3} more)" if len(violations) > 3 else ""
        raise InvalidArgument(
            f"invalid ICS document: {shown}{more}", violations=violations, reason=REASON
        )


@dataclass(frozen=True, slots=True)
class ImportWarning:
    """Something of a valid document Almanac normalized or left out.

    ``line`` is the 1-based physical line of the property or component (0
    when unknown). Import goes on: these are reported, not raised.
    """

    line: int
    message: str


class Warnings:
    """The warnings of one import, in file order, located like `Problems`."""

    def __init__(self, locate: Callable[[object], int | None] | None = None) -> None:
        self.locate = locate
        self._items: list[ImportWarning] = []

    def add(self, line: int | None, message: str) -> None:
        item = ImportWarning(line or 0, message)
        if item not in self._items and len(self._items) < MAX_VIOLATIONS:
            self._items.append(item)

    def at(self, obj: object, message: str) -> None:
        self.add(self.locate(obj) if self.locate is not None else None, message)

    def items(self) -> list[ImportWarning]:
        return sorted(self._items, key=lambda item: item.line)


class Unrepresentable(Exception):
    """A component of a valid document that Almanac cannot hold: the
    document importer leaves it out with a warning (`Warnings`)."""

    def __init__(self, where: object, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message
