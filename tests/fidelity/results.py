"""One pass over the corpus: import, the three readers, export round trip.

`outcomes()` is computed once per process (the test module and the report
share it) and holds, per file, what each step gave; `figures` condenses it
into the line the issue asks for.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from almanac.v1 import calendar_service_pb2 as cal_pb

from connectors.errors import InvalidArgument
from connectors.ical import ParsedCalendar, from_ics, to_ics
from tests.fidelity.corpus import (
    Span,
    almanac_starts,
    corpus_dir,
    icaljs_starts,
    rie_starts,
    span,
    starts_only,
    verdicts,
)

_LINE = re.compile(r"\bline \d+\b")


@dataclass
class Outcome:
    name: str
    verdict: str
    valid: bool
    # Import: None when it imported, else the error ("InvalidArgument: ..."
    # or another exception's type and text, which is always a failure).
    rejected: str | None = None
    rejected_with_lines: bool = False
    warnings: list[str] = field(default_factory=list)
    almanac: set[str] = field(default_factory=set)
    rie: set[str] | str = field(default_factory=set)
    icaljs: set[str] | str = field(default_factory=set)
    # Round trip: Almanac re-reading its export, ical.js reading it.
    reimported: set[str] | str = field(default_factory=set)
    icaljs_export: set[str] | str = field(default_factory=set)

    @property
    def imported(self) -> bool:
        return self.rejected is None

    def differs(self, reader: str) -> bool:
        """Whether ``reader`` lists other instances than Almanac (after an
        export, compared by start only: events without UID get one)."""
        if reader in ("reimported", "icaljs_export"):
            return starts_only(getattr(self, reader)) != starts_only(self.almanac)
        return bool(getattr(self, reader) != self.almanac)


def _import(outcome: Outcome, data: bytes) -> ParsedCalendar | None:
    try:
        parsed = from_ics(data, default_zone="UTC")
    except InvalidArgument as exc:
        outcome.rejected = f"InvalidArgument: {exc.message}"
        descriptions = [d for _, d in exc.violations]
        outcome.rejected_with_lines = bool(descriptions) and all(
            _LINE.search(d) for d in descriptions
        )
        return None
    except Exception as exc:
        outcome.rejected = f"{type(exc).__name__}: {exc}"
        return None
    outcome.warnings = [f"line {w.line}: {w.message}" for w in parsed.warnings]
    return parsed


def _export(parsed: ParsedCalendar) -> bytes:
    calendar = cal_pb.Calendar(display_name="corpus")
    return to_ics(calendar, [*parsed.events, *parsed.exceptions], header=parsed.header)


@functools.lru_cache(maxsize=1)
def outcomes() -> tuple[Outcome, ...]:
    folder = corpus_dir()
    found: list[Outcome] = []
    originals: dict[str, tuple[bytes, Span]] = {}
    exports: dict[str, tuple[bytes, Span]] = {}
    for name, verdict in sorted(verdicts().items()):
        outcome = Outcome(name, verdict, verdict == "valid")
        found.append(outcome)
        data = (folder / name).read_bytes()
        parsed = _import(outcome, data)
        if parsed is None or not outcome.valid:
            continue
        window = span(parsed)
        outcome.almanac = almanac_starts(parsed, window)
        try:
            outcome.rie = rie_starts(data, window)
        except Exception as exc:
            outcome.rie = f"{type(exc).__name__}: {exc}"
        originals[name] = (data, window)
        try:
            exported = _export(parsed)
            outcome.reimported = almanac_starts(from_ics(exported, default_zone="UTC"), window)
            exports[name] = (exported, window)
        except Exception as exc:
            outcome.reimported = f"{type(exc).__name__}: {exc}"
    icaljs = icaljs_starts(originals)
    icaljs_export = icaljs_starts(exports)
    for outcome in found:
        if outcome.name in icaljs:
            outcome.icaljs = icaljs[outcome.name]
        if outcome.name in icaljs_export:
            outcome.icaljs_export = icaljs_export[outcome.name]
        elif outcome.name in icaljs:
            outcome.icaljs_export = "not exported"
    return tuple(found)
