"""The corpus figures: ``.venv/bin/python -m tests.fidelity.report`` (or
``make fidelity``).

Prints ``imported a/b; agree c/d; round trip e/f`` and then every
difference and every invalid file's answer:

* imported: valid files (SOURCES.md verdict ``valid``) that import;
* agree: imported valid files whose instance starts are the same for
  Almanac, recurring-ical-events and ical.js (documented differences are
  listed, not counted as agreement);
* round trip: imported valid files whose export Almanac re-imports to the
  same instances and ical.js reads to the same instances (again,
  documented differences listed apart).
"""

from __future__ import annotations

from tests.fidelity.differences import DIFFERENCES
from tests.fidelity.results import Outcome, outcomes


def figures(found: tuple[Outcome, ...]) -> dict[str, tuple[int, int]]:
    valid = [o for o in found if o.valid]
    imported = [o for o in valid if o.imported]
    agree = [o for o in imported if not o.differs("rie") and not o.differs("icaljs")]
    trip = [o for o in imported if not o.differs("reimported") and not o.differs("icaljs_export")]
    return {
        "imported": (len(imported), len(valid)),
        "agree": (len(agree), len(imported)),
        "round trip": (len(trip), len(imported)),
    }


def main() -> None:
    found = outcomes()
    numbers = figures(found)
    print("; ".join(f"{name} {a}/{b}" for name, (a, b) in numbers.items()))
    documented = sum(
        1
        for o in found
        if o.valid
        and any(o.differs(r) for r in ("rie", "icaljs"))
        and all(not o.differs(r) or (o.name, r) in DIFFERENCES for r in ("rie", "icaljs"))
    )
    print(f"  ({documented} of the disagreeing files have every difference documented)")
    print("\ndocumented differences:")
    for (name, reader), why in sorted(DIFFERENCES.items()):
        print(f"  {name} [{reader}]: {why}")
    print("\ninvalid files (SOURCES.md verdict) and Almanac's answer:")
    for o in found:
        if o.valid:
            continue
        answer = "imported, leniently" if o.imported else o.rejected or ""
        print(f"  {o.name}: {o.verdict}\n      -> {answer[:160]}")


if __name__ == "__main__":
    main()
