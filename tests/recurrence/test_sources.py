"""The arithmetic fast path (PeriodicRule) against dateutil."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from connectors.recurrence.rules import WEEKDAY_CODES, parse_rrule
from connectors.recurrence.sources import PeriodicRule, raw_source

SCALE = int(os.environ.get("RECURRENCE_EXAMPLES", "1"))  # as in test_properties


@st.composite
def periodic_rules(draw: st.DrawFn) -> str:
    freq = draw(st.sampled_from(["HOURLY", "DAILY", "WEEKLY"]))
    parts = [f"FREQ={freq}", f"INTERVAL={draw(st.integers(1, 10))}"]
    if freq == "HOURLY":
        return ";".join(parts)
    if draw(st.booleans()):
        days = draw(st.sets(st.sampled_from(WEEKDAY_CODES), min_size=1))
        parts.append("BYDAY=" + ",".join(days))
    for name, values in (
        ("BYHOUR", range(24)),
        ("BYMINUTE", range(0, 60, 5)),
        ("BYSECOND", (0, 30)),
    ):
        if draw(st.integers(0, 3)) == 0:
            parts.append(
                f"{name}="
                + ",".join(map(str, draw(st.sets(st.sampled_from(values), min_size=1, max_size=3))))
            )
    if freq == "DAILY" and len(parts) > 2 and draw(st.integers(0, 3)) == 0:
        parts.append(f"BYSETPOS={draw(st.sampled_from([1, -1, 2, -2]))}")
    if freq == "WEEKLY":
        parts.append("WKST=" + draw(st.sampled_from(WEEKDAY_CODES)))
    return ";".join(parts)


@settings(max_examples=200 * SCALE, deadline=None)
@given(periodic_rules(), st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1)), st.data())
def test_periodic_source_equals_dateutil(rule: str, dtstart: datetime, data: st.DataObject) -> None:
    """The arithmetic fast path and dateutil produce the same candidates,
    and the fast path's counts match them."""
    spec = parse_rrule(rule)
    dtstart = dtstart.replace(microsecond=0)
    fast = raw_source(spec, dtstart)
    slow = raw_source(spec, dtstart, periodic=False)
    assume(type(fast) is not type(slow))
    # An empty rule (BYSETPOS past the day's times, INTERVAL=7 off the BYDAY
    # weekdays) sends dateutil searching until year 9999; validation
    # rejects those, so they are not compared here.
    assume(bool(getattr(fast, "offsets", True)))
    expected = [w for _, w in zip(range(200), slow.iter_from(0), strict=False)]
    assert [w for _, w in zip(range(200), fast.iter_from(0), strict=False)] == expected
    k = data.draw(st.integers(0, len(expected) - 1)) if expected else 0
    tail = expected[k : k + 5]
    assert [w for _, w in zip(range(len(tail)), fast.iter_from(k), strict=False)] == tail
    if expected:
        probe = data.draw(st.sampled_from(expected)) + data.draw(
            st.sampled_from([timedelta(0), timedelta(seconds=1), -timedelta(seconds=1)])
        )
        assert (
            fast.count_before(probe) == sum(1 for w in expected if w < probe)
            or probe > expected[-1]
        )
        assert fast.contains(probe) == (probe in expected) or probe > expected[-1]


def test_shapes_that_stay_with_dateutil() -> None:
    start = datetime(2026, 1, 7, 9)
    for rule in (
        "FREQ=MONTHLY",
        "FREQ=WEEKLY;BYDAY=MO,WE;BYSETPOS=1",  # dateutil's partial first week
        "FREQ=DAILY;BYMONTH=1",
        "FREQ=HOURLY;BYHOUR=9;COUNT=3",
    ):
        assert not isinstance(raw_source(parse_rrule(rule), start), PeriodicRule)
    for rule in ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE", "FREQ=DAILY;BYDAY=MO,FR", "FREQ=HOURLY"):
        assert isinstance(raw_source(parse_rrule(rule), start), PeriodicRule)
