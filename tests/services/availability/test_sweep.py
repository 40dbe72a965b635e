"""The engine's shortcuts against the long way round, without a server.

``merge`` sorts by start alone; required participants' free time comes from
one merge of everyone's blocks (`engine._free_together`) instead of one per
person and an intersection; working hours are remembered per schedule, zone
and window. Each must answer exactly what the long way answers.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from almanac.v1 import calendar_service_pb2 as cal_pb
from google.type import dayofweek_pb2, timeofday_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from services.availability import engine
from services.availability.intervals import Interval, complement, intersect, merge, subtract
from services.availability.working_hours import available_intervals, schedule_intervals

_point = st.integers(0, 200)
_interval = st.tuples(_point, _point)  # empty and reversed ones too
_intervals = st.lists(_interval, max_size=30)


def _merge_by_pairs(intervals: list[Interval]) -> list[Interval]:
    """The previous `merge`: sorted by (start, end)."""
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


@settings(max_examples=300, deadline=None)
@given(_intervals)
def test_merge_by_start_alone(intervals: list[Interval]) -> None:
    assert merge(intervals) == _merge_by_pairs(intervals)


def test_merge_edges() -> None:
    assert merge([]) == []
    assert merge([(5, 5), (7, 3)]) == []  # empty and reversed intervals go
    assert merge([(0, 5), (5, 9)]) == [(0, 9)]  # touching join
    assert merge([(3, 4), (0, 10), (3, 12)]) == [(0, 12)]  # equal starts, any order
    assert merge([(3, 12), (3, 4), (20, 21)]) == [(3, 12), (20, 21)]


def _people(draw: st.DrawFn) -> list[engine.Participant]:
    people = []
    for n in range(draw(st.integers(1, 4))):
        working = draw(st.one_of(st.none(), _intervals.map(merge)))
        spans = draw(_intervals)
        people.append(engine.Participant(f"p{n}", [], working, spans))
    return people


@st.composite
def _queries(draw: st.DrawFn) -> engine.Query:
    cuts = sorted(set(draw(st.lists(_point, min_size=2, max_size=6))))
    windows = merge(list(zip(cuts[::2], cuts[1::2], strict=False)))
    if not windows:
        windows = [(0, 200)]
    return engine.Query(
        windows=windows,
        duration=draw(st.integers(1, 30)),
        increment=draw(st.sampled_from([0, 5, 15])),
        buffer_before=draw(st.sampled_from([0, 3])),
        buffer_after=draw(st.sampled_from([0, 7])),
        max_results=50,
        explain=False,
        required=_people(draw),
        groups=[],
    )


def _free_one_by_one(q: engine.Query) -> list[Interval]:
    """The previous way: each person's free time, then their intersection."""
    span = (q.windows[0][0], q.windows[-1][1])
    free = list(q.windows)
    for p in q.required:
        spans = p.spans or []
        blocked = merge((s - q.buffer_before, e + q.buffer_after) for s, e in spans)
        off = complement(p.working, span) if p.working is not None else []
        free = intersect(free, subtract(q.windows, merge([*blocked, *off])))
    return free


@settings(max_examples=300, deadline=None)
@given(_queries())
def test_free_together_is_the_intersection(q: engine.Query) -> None:
    span = (q.windows[0][0], q.windows[-1][1])
    assert engine._free_together(q, q.required, span) == _free_one_by_one(q)
    for p in q.required:  # explanations cite time off: it is still set
        assert p.off == (complement(p.working, span) if p.working is not None else [])


def _schedule(zone: str, disabled: bool = False) -> cal_pb.Schedule:
    hours = [
        cal_pb.WeeklyInterval(
            day=day,
            start_time=timeofday_pb2.TimeOfDay(hours=9),
            end_time=timeofday_pb2.TimeOfDay(hours=17),
        )
        for day in (dayofweek_pb2.MONDAY, dayofweek_pb2.FRIDAY)
    ]
    return cal_pb.Schedule(time_zone=zone, weekly_hours=hours, disabled=disabled)


def _us(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * 1_000_000


def test_working_hours_remembered_across_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    span = (
        _us(dt.datetime(2027, 3, 22, tzinfo=dt.UTC)),
        _us(dt.datetime(2027, 4, 3, tzinfo=dt.UTC)),
    )
    schedule = _schedule("Europe/Berlin")
    first = available_intervals([schedule], "UTC", span)
    again = available_intervals([_schedule("Europe/Berlin")], "UTC", span)
    assert first == again == schedule_intervals(schedule, "UTC", span)
    assert first is not None
    starts = [dt.datetime.fromtimestamp(s / 1e6, berlin).hour for s, _ in first]
    assert starts == [9, 9, 9, 9]  # 09:00 local on both sides of the 28 March change
    offsets = {e - s for s, e in first}
    assert offsets == {8 * 3_600_000_000}
    assert first[0][0] - _us(dt.datetime(2027, 3, 22, 8, tzinfo=dt.UTC)) == 0  # CET
    assert first[-1][0] == _us(dt.datetime(2027, 4, 2, 7, tzinfo=dt.UTC))  # CEST


def test_working_hours_keys() -> None:
    span = (0, 14 * 86_400_000_000)
    assert available_intervals([], "UTC", span) is None
    assert available_intervals([_schedule("", disabled=True)], "UTC", span) is None
    # The calendar's zone is part of the question when the schedule has none.
    utc = available_intervals([_schedule("")], "UTC", span)
    tokyo = available_intervals([_schedule("")], "Asia/Tokyo", span)
    assert utc is not None and tokyo is not None
    assert [s - 9 * 3_600_000_000 for s, _ in utc] == [s for s, _ in tokyo]
    both = available_intervals([_schedule(""), _schedule("Asia/Tokyo")], "UTC", span)
    assert both == merge([*utc, *tokyo])
