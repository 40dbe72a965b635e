"""Splitting a series for "this and following" (and truncating it)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from almanac.v1 import common_pb2, event_service_pb2

from connectors.recurrence import expand, split_series, to_proto, truncate_before
from connectors.recurrence.times import TimeValue

NY = ZoneInfo("America/New_York")
Rec = event_service_pb2.Recurrence


def _keys(start: common_pb2.EventTime, rec: event_service_pb2.Recurrence | None) -> list[str]:
    window_end = datetime(2028, 1, 1, tzinfo=UTC)
    found = expand(start, None, rec, window_end=window_end, include_excluded=True)
    return [f"{o.instance_id_suffix}{'x' if o.excluded else ''}" for o in found.occurrences]


def _check_union(start: TimeValue, rec: event_service_pb2.Recurrence, cut: TimeValue) -> None:
    start_proto = to_proto(start)
    split = split_series(start_proto, None, rec, cut)
    original = _keys(start_proto, rec)
    before = _keys(start_proto, split.before) if split.before is not None else []
    after = _keys(split.new_start, split.after)
    assert before + after == original
    assert len(before) == split.count_before


def test_count_series() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=NY)
    rec = Rec(rrules=["FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10"])
    cut = datetime(2026, 1, 19, 9, tzinfo=NY)
    split = split_series(to_proto(start), None, rec, cut)
    assert split.before is not None
    assert list(split.before.rrules) == ["FREQ=WEEKLY;COUNT=4;BYDAY=MO,WE"]
    assert list(split.after.rrules) == ["FREQ=WEEKLY;COUNT=6;BYDAY=MO,WE"]
    assert split.new_start == to_proto(cut)
    assert split.count_before == 4
    _check_union(start, rec, cut)


def test_endless_timed_series_gets_a_utc_until() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=NY)
    rec = Rec(rrules=["FREQ=DAILY"])
    cut = datetime(2026, 3, 10, 9, tzinfo=NY)  # after the DST change: 13:00Z
    before = truncate_before(to_proto(start), rec, cut)
    assert list(before.rrules) == ["FREQ=DAILY;UNTIL=20260310T125959Z"]
    _check_union(start, rec, cut)


def test_earlier_until_is_kept() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=NY)
    rec = Rec(rrules=["FREQ=DAILY;UNTIL=20260110T000000Z", "FREQ=WEEKLY;BYDAY=FR"])
    cut = datetime(2026, 2, 6, 9, tzinfo=NY)
    split = split_series(to_proto(start), None, rec, cut)
    assert split.before is not None
    assert list(split.before.rrules) == [
        "FREQ=DAILY;UNTIL=20260110T000000Z",
        "FREQ=WEEKLY;UNTIL=20260206T135959Z;BYDAY=FR",
    ]
    assert list(split.after.rrules) == ["FREQ=WEEKLY;BYDAY=FR"]
    _check_union(start, rec, cut)


def test_all_day_and_floating_untils() -> None:
    rec = Rec(rrules=["FREQ=WEEKLY"])
    before = truncate_before(to_proto(date(2026, 1, 5)), rec, date(2026, 2, 2))
    assert list(before.rrules) == ["FREQ=WEEKLY;UNTIL=20260201"]
    before = truncate_before(to_proto(datetime(2026, 1, 5, 9)), rec, datetime(2026, 2, 2, 9))
    assert list(before.rrules) == ["FREQ=WEEKLY;UNTIL=20260202T085959"]
    _check_union(date(2026, 1, 5), rec, date(2026, 2, 2))
    _check_union(datetime(2026, 1, 5, 9), rec, datetime(2026, 2, 2, 9))


def test_rdates_and_exdates_are_partitioned() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=NY)
    rec = Rec(rrules=["FREQ=WEEKLY;COUNT=8"])
    rec.rdates.extend(
        [
            to_proto(datetime(2026, 1, 7, 12, tzinfo=NY)),
            to_proto(datetime(2026, 2, 4, 12, tzinfo=NY)),
        ]
    )
    rec.exdates.extend(
        [
            to_proto(datetime(2026, 1, 12, 9, tzinfo=NY)),
            to_proto(datetime(2026, 2, 9, 9, tzinfo=NY)),
        ]
    )
    cut = datetime(2026, 2, 2, 9, tzinfo=NY)
    split = split_series(to_proto(start), None, rec, cut)
    assert split.before is not None
    assert [r.date_time.seconds for r in split.before.rdates] == [rec.rdates[0].date_time.seconds]
    assert [r.date_time.seconds for r in split.after.rdates] == [rec.rdates[1].date_time.seconds]
    assert len(split.before.exdates) == 1 and len(split.after.exdates) == 1
    _check_union(start, rec, cut)


def test_cut_at_the_first_occurrence() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=NY)
    rec = Rec(rrules=["FREQ=DAILY;COUNT=3"])
    split = split_series(to_proto(start), None, rec, start)
    assert split.before is None and split.count_before == 0
    assert list(split.after.rrules) == ["FREQ=DAILY;COUNT=3"]
    with pytest.raises(ValueError, match="before its first occurrence"):
        truncate_before(to_proto(start), rec, start)


def test_cut_must_be_an_occurrence() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=NY)
    rec = Rec(rrules=["FREQ=DAILY;COUNT=3"])
    with pytest.raises(ValueError, match="not an occurrence"):
        split_series(to_proto(start), None, rec, datetime(2026, 1, 6, 10, tzinfo=NY))
    with pytest.raises(ValueError, match="not an occurrence"):
        split_series(to_proto(start), None, rec, datetime(2026, 1, 10, 9, tzinfo=NY))
    with pytest.raises(ValueError, match="not an occurrence"):
        split_series(to_proto(start), None, rec, datetime(2026, 1, 1, 9, tzinfo=NY))
    with pytest.raises(ValueError):
        split_series(to_proto(start), None, rec, date(2026, 1, 6))


def test_cut_after_the_gap_counts_the_shifted_instance() -> None:
    start = datetime(2026, 3, 6, 2, 30, tzinfo=NY)
    rec = Rec(rrules=["FREQ=DAILY;COUNT=5"])  # 6, 7, 8 (03:30), 9, 10
    cut = datetime(2026, 3, 10, 2, 30, tzinfo=NY)
    split = split_series(to_proto(start), None, rec, cut)
    assert split.before is not None
    assert list(split.before.rrules) == ["FREQ=DAILY;COUNT=4"]
    assert list(split.after.rrules) == ["FREQ=DAILY;COUNT=1"]
    _check_union(start, rec, cut)


def test_cut_at_the_shifted_instance_keeps_the_rule_at_0230() -> None:
    start = datetime(2026, 3, 6, 2, 30, tzinfo=NY)
    rec = Rec(rrules=["FREQ=DAILY;COUNT=5"])
    cut = datetime(2026, 3, 8, 3, 30, tzinfo=NY)  # the shifted 02:30
    split = split_series(to_proto(start), None, rec, cut)
    assert list(split.after.rrules) == ["FREQ=DAILY;COUNT=2;BYHOUR=2;BYMINUTE=30;BYSECOND=0"]
    _check_union(start, rec, cut)


def test_cut_at_an_rdate_writes_implicit_parts_out() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=NY)  # Monday 09:00
    rec = Rec(
        rrules=["FREQ=WEEKLY;COUNT=6"], rdates=[to_proto(datetime(2026, 1, 14, 12, tzinfo=NY))]
    )
    cut = datetime(2026, 1, 14, 12, tzinfo=NY)  # a Wednesday-noon RDATE
    split = split_series(to_proto(start), None, rec, cut)
    assert list(split.after.rrules) == [
        "FREQ=WEEKLY;COUNT=4;BYDAY=MO;BYHOUR=9;BYMINUTE=0;BYSECOND=0"
    ]
    assert list(split.after.rdates) == []  # it is the new series' start
    _check_union(start, rec, cut)


def test_cut_that_cannot_keep_the_interval_is_refused() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=NY)
    rec = Rec(
        rrules=["FREQ=WEEKLY;INTERVAL=2"], rdates=[to_proto(datetime(2026, 1, 14, 12, tzinfo=NY))]
    )
    with pytest.raises(ValueError, match="INTERVAL"):
        split_series(to_proto(start), None, rec, datetime(2026, 1, 14, 12, tzinfo=NY))


@pytest.mark.parametrize(
    ("rule", "cut_day"),
    [
        ("FREQ=MONTHLY;BYMONTHDAY=31", date(2026, 5, 31)),
        ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", date(2026, 4, 30)),
        ("FREQ=YEARLY;BYMONTH=1,7", date(2027, 1, 31)),
        ("FREQ=WEEKLY;INTERVAL=3;BYDAY=SA,SU;COUNT=12", date(2026, 3, 15)),
    ],
)
def test_union_for_other_rules(rule: str, cut_day: date) -> None:
    start = datetime(2026, 1, 31, 18, tzinfo=NY)
    rec = Rec(rrules=[rule])
    _check_union(start, rec, datetime.combine(cut_day, start.timetz()))


def test_exdated_cut_moves_the_exdate() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=NY)
    cut = datetime(2026, 1, 12, 9, tzinfo=NY)
    rec = Rec(rrules=["FREQ=WEEKLY;COUNT=4"], exdates=[to_proto(cut)])
    split = split_series(to_proto(start), None, rec, cut)
    assert len(split.after.exdates) == 1
    _check_union(start, rec, cut)
    assert _keys(split.new_start, split.after)[0].endswith("x")


def test_durations_do_not_matter_for_the_split() -> None:
    start = to_proto(datetime(2026, 1, 5, 9, tzinfo=NY))
    end = to_proto(datetime(2026, 1, 5, 9, tzinfo=NY) + timedelta(hours=30))
    rec = Rec(rrules=["FREQ=DAILY;COUNT=5"])
    split = split_series(start, end, rec, datetime(2026, 1, 7, 9, tzinfo=NY))
    assert split.count_before == 2


def test_cut_at_or_before_dtstart_with_earlier_rdates_is_refused() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=NY)
    early = datetime(2026, 1, 1, 9, tzinfo=NY)
    rec = Rec(rrules=["FREQ=DAILY;COUNT=3"], rdates=[to_proto(early)])
    with pytest.raises(ValueError, match="RDATEs precede"):
        split_series(to_proto(start), None, rec, start)
    with pytest.raises(ValueError, match="before its start"):
        split_series(to_proto(start), None, rec, early)
