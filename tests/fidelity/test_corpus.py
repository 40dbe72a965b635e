"""The ICS interop corpus (../shared/ics-corpus) as a test suite.

* every valid file (SOURCES.md verdict ``valid``) imports;
* its instance starts agree with recurring-ical-events and ical.js over the
  file's span, except the differences in `differences.DIFFERENCES`;
* its export re-imports to the same instances, and ical.js reads the export
  to the same instances (again except documented differences);
* every invalid file is either rejected with InvalidArgument whose every
  violation names a line, or read leniently; never another exception.

A missing corpus fails (FileNotFoundError), it never skips.
"""

from __future__ import annotations

import pytest

from tests.fidelity.corpus import verdicts
from tests.fidelity.differences import DIFFERENCES
from tests.fidelity.report import figures
from tests.fidelity.results import Outcome, outcomes

NAMES = sorted(verdicts())
VALID = [n for n in NAMES if verdicts()[n] == "valid"]
INVALID = [n for n in NAMES if n not in VALID]
READERS = ("rie", "icaljs", "reimported", "icaljs_export")


def _outcome(name: str) -> Outcome:
    return next(o for o in outcomes() if o.name == name)


def test_the_corpus_is_all_there() -> None:
    assert len(NAMES) == 232 and len(VALID) == 143


@pytest.mark.parametrize("name", VALID)
def test_valid_file_imports(name: str) -> None:
    outcome = _outcome(name)
    assert outcome.rejected is None, outcome.rejected


@pytest.mark.parametrize("name", VALID)
@pytest.mark.parametrize("reader", READERS)
def test_instances_agree_or_the_difference_is_documented(name: str, reader: str) -> None:
    outcome = _outcome(name)
    documented = (name, reader) in DIFFERENCES
    if reader == "reimported":
        assert not documented, "Almanac must always read its own export the same"
    theirs = getattr(outcome, reader)
    detail = (
        theirs
        if isinstance(theirs, str)
        else (sorted(outcome.almanac - theirs)[:3], sorted(theirs - outcome.almanac)[:3])
    )
    assert outcome.differs(reader) == documented, detail


@pytest.mark.parametrize("name", INVALID)
def test_invalid_file_is_rejected_naming_lines_or_read(name: str) -> None:
    outcome = _outcome(name)
    if outcome.rejected is not None:
        assert outcome.rejected.startswith("InvalidArgument: "), outcome.rejected
        assert outcome.rejected_with_lines, outcome.rejected


def test_every_documented_difference_is_about_a_corpus_file() -> None:
    assert {name for name, _ in DIFFERENCES} <= set(VALID)


def test_figures() -> None:
    numbers = figures(outcomes())
    assert numbers["imported"] == (143, 143)
