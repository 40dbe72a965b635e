"""Expansion details: indices, EXDATEs, limits, windows, instance lookup."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from almanac.v1 import event_service_pb2

from connectors.recurrence import (
    expand,
    find_occurrence,
    is_occurrence,
    iter_occurrences,
    occurrence_at,
    parse_instance_suffix,
    to_proto,
)

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
Rec = event_service_pb2.Recurrence


def _series(start: datetime | date, rrules: list[str], **kw: list[datetime | date]) -> tuple:
    rec = Rec(rrules=rrules)
    rec.rdates.extend(to_proto(v) for v in kw.get("rdates", []))
    rec.exdates.extend(to_proto(v) for v in kw.get("exdates", []))
    length = timedelta(days=1) if not isinstance(start, datetime) else timedelta(hours=1)
    return to_proto(start), to_proto(start + length), rec


def test_index_counts_exdated_positions_and_rdates_in_order() -> None:
    start, end, rec = _series(
        datetime(2026, 1, 5, 9, tzinfo=NY),
        ["FREQ=WEEKLY;COUNT=4"],
        rdates=[datetime(2026, 1, 8, 15, tzinfo=NY)],
        exdates=[datetime(2026, 1, 12, 9, tzinfo=NY)],
    )
    found = expand(start, end, rec).occurrences
    assert [(o.original_start.day, o.index) for o in found] == [(5, 1), (8, 2), (19, 4), (26, 5)]
    with_cancelled = expand(start, end, rec, include_excluded=True).occurrences
    assert [(o.original_start.day, o.index, o.excluded) for o in with_cancelled] == [
        (5, 1, False),
        (8, 2, False),
        (12, 3, True),
        (19, 4, False),
        (26, 5, False),
    ]


def test_rdate_before_dtstart_is_first() -> None:
    start, end, rec = _series(
        datetime(2026, 1, 5, 9, tzinfo=NY),
        ["FREQ=DAILY;COUNT=2"],
        rdates=[datetime(2026, 1, 1, 9, tzinfo=NY), datetime(2026, 1, 6, 9, tzinfo=NY)],
    )
    found = expand(start, end, rec).occurrences
    assert [(o.original_start.day, o.index) for o in found] == [(1, 1), (5, 2), (6, 3)]


def test_no_recurrence_is_a_single_member() -> None:
    start, end, _ = _series(datetime(2026, 1, 5, 9, tzinfo=NY), [])
    [only] = expand(start, end, None).occurrences
    assert only.index == 1 and only.instance_id_suffix == "20260105T140000Z"


def test_limit_and_truncation() -> None:
    start, end, rec = _series(datetime(2026, 1, 5, 9, tzinfo=NY), ["FREQ=DAILY"])
    result = expand(start, end, rec, limit=3)
    assert result.truncated and len(result.occurrences) == 3
    window_end = datetime(2026, 1, 8, tzinfo=UTC)
    result = expand(start, end, rec, window_end=window_end, limit=3)
    assert not result.truncated and len(result.occurrences) == 3
    assert expand(start, end, rec, limit=0).truncated
    with pytest.raises(ValueError):
        expand(start, end, rec, limit=-1)


def test_window_bounds_must_be_aware() -> None:
    start, end, rec = _series(datetime(2026, 1, 5, 9, tzinfo=NY), ["FREQ=DAILY"])
    with pytest.raises(ValueError, match="aware"):
        expand(start, end, rec, window_start=datetime(2026, 1, 1))


def test_window_edges_are_half_open() -> None:
    start, end, rec = _series(datetime(2026, 1, 5, 9, tzinfo=UTC), ["FREQ=DAILY"])
    ten = datetime(2026, 1, 6, 10, tzinfo=UTC)  # the end of the Jan 6 instance
    nine = datetime(2026, 1, 7, 9, tzinfo=UTC)  # the start of the Jan 7 one
    found = expand(start, end, rec, window_start=ten, window_end=nine).occurrences
    assert found == ()


def test_zero_length_instances_at_the_window_start_count() -> None:
    s = to_proto(datetime(2026, 1, 5, 9, tzinfo=UTC))
    rec = Rec(rrules=["FREQ=DAILY"])
    at = datetime(2026, 1, 6, 9, tzinfo=UTC)
    found = expand(s, s, rec, window_start=at, window_end=at + timedelta(hours=1)).occurrences
    assert [o.start_utc for o in found] == [at]


def test_end_shown_in_the_zone_of_the_masters_end() -> None:
    # A flight: New York 18:00 -> Berlin 08:00 the next morning (8 hours).
    start = to_proto(datetime(2026, 1, 5, 18, tzinfo=NY))
    end = to_proto(datetime(2026, 1, 6, 8, tzinfo=BERLIN))
    rec = Rec(rrules=["FREQ=WEEKLY;COUNT=20"])
    for o in expand(start, end, rec).occurrences:
        assert o.end_utc - o.start_utc == timedelta(hours=8)
        assert isinstance(o.end, datetime) and o.end.tzinfo == BERLIN
        assert o.original_start.tzinfo == NY  # type: ignore[union-attr]


def test_dtstart_in_the_second_pass_of_an_overlap_keeps_its_instant() -> None:
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC).astimezone(NY)  # 01:30 EST
    assert second.fold == 1
    start, end, rec = _series(second, ["FREQ=WEEKLY;COUNT=2"])
    first, nxt = expand(start, end, rec).occurrences
    assert first.start_utc == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert first.index == 1
    assert nxt.original_start == datetime(2026, 11, 8, 1, 30, tzinfo=NY)


def test_microseconds_are_dropped() -> None:
    start = to_proto(datetime(2026, 1, 5, 9, 0, 0, 500_000, tzinfo=UTC))
    rec = Rec(rrules=["FREQ=DAILY;COUNT=2"])
    found = expand(start, None, rec).occurrences
    assert [o.original_start for o in found] == [
        datetime(2026, 1, 5, 9, tzinfo=UTC),
        datetime(2026, 1, 6, 9, tzinfo=UTC),
    ]
    assert found[0].end_utc - found[0].start_utc == timedelta(hours=1)  # default end


def test_all_day_identity_never_depends_on_the_zone() -> None:
    start, end, rec = _series(date(2026, 1, 5), ["FREQ=WEEKLY;COUNT=3"])
    results = {
        zone: expand(start, end, rec, floating_zone=ZoneInfo(zone)).occurrences
        for zone in ("Pacific/Pago_Pago", "Pacific/Kiritimati", "UTC")
    }
    ids = {
        zone: [(o.original_start, o.instance_id_suffix, o.index) for o in occ]
        for zone, occ in results.items()
    }
    assert len({tuple(v) for v in ids.values()}) == 1
    assert ids["UTC"][0] == (date(2026, 1, 5), "20260105", 1)
    pago = results["Pacific/Pago_Pago"][0]
    assert (pago.start_utc, pago.end_utc) == (
        datetime(2026, 1, 5, 11, tzinfo=UTC),
        datetime(2026, 1, 6, 11, tzinfo=UTC),
    )
    kiri = results["Pacific/Kiritimati"][0]
    assert kiri.start_utc == datetime(2026, 1, 4, 10, tzinfo=UTC)
    assert kiri.end == date(2026, 1, 6)


def test_all_day_on_a_day_that_did_not_exist() -> None:
    # Samoa skipped 2011-12-30; an all-day series keeps that date (its
    # identity is the date) with a zero-length span there.
    start, end, rec = _series(date(2011, 12, 28), ["FREQ=DAILY;COUNT=5"])
    found = expand(start, end, rec, floating_zone=ZoneInfo("Pacific/Apia")).occurrences
    assert [o.original_start.day for o in found] == [28, 29, 30, 31, 1]  # type: ignore[union-attr]
    skipped = found[2]
    assert skipped.start_utc == skipped.end_utc


def test_floating_instances_follow_the_floating_zone() -> None:
    start, end, rec = _series(datetime(2026, 1, 5, 9), ["FREQ=DAILY;COUNT=2"])
    ny = expand(start, end, rec, floating_zone=NY).occurrences
    berlin = expand(start, end, rec, floating_zone=BERLIN).occurrences
    assert [o.instance_id_suffix for o in ny] == [o.instance_id_suffix for o in berlin]
    assert ny[0].instance_id_suffix == "20260105T090000"
    assert ny[0].start_utc - berlin[0].start_utc == timedelta(hours=6)


def test_floating_instance_in_a_gap_is_kept_and_lands_after_it() -> None:
    # A floating series has no zone of its own, so nothing is skipped; read
    # in New York, 02:30 on the change day is 03:30 EDT (RFC 5545 §3.3.5).
    start, end, rec = _series(datetime(2026, 3, 7, 2, 30), ["FREQ=DAILY;COUNT=3"])
    found = expand(start, end, rec, floating_zone=NY).occurrences
    assert len(found) == 3
    assert found[1].start_utc == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert found[1].end_utc - found[1].start_utc == timedelta(hours=1)


def test_find_occurrence_and_is_occurrence() -> None:
    start, end, rec = _series(
        datetime(2026, 1, 5, 9, tzinfo=NY),
        ["FREQ=WEEKLY;BYDAY=MO,WE"],
        exdates=[datetime(2026, 1, 7, 9, tzinfo=NY)],
    )
    hit = find_occurrence(start, end, rec, parse_instance_suffix("20260302T140000Z"))
    assert hit is not None and not hit.excluded
    assert hit.original_start == datetime(2026, 3, 2, 9, tzinfo=NY)
    assert hit.index == 17
    # Any zone, same instant.
    assert is_occurrence(start, end, rec, datetime(2026, 3, 2, 23, tzinfo=ZoneInfo("Asia/Tokyo")))
    assert not is_occurrence(start, end, rec, datetime(2026, 3, 2, 10, tzinfo=NY))
    assert not is_occurrence(start, end, rec, datetime(2026, 1, 7, 9, tzinfo=NY))  # cancelled
    cancelled = find_occurrence(start, end, rec, datetime(2026, 1, 7, 9, tzinfo=NY))
    assert cancelled is not None and cancelled.excluded and cancelled.index == 2
    assert not is_occurrence(start, end, rec, date(2026, 3, 2))  # wrong kind
    assert not is_occurrence(start, end, rec, datetime(2026, 3, 2, 9))  # floating
    assert not is_occurrence(start, end, rec, datetime(2025, 12, 29, 9, tzinfo=NY))


def test_is_occurrence_of_all_day_and_floating_series() -> None:
    start, end, rec = _series(date(2026, 1, 5), ["FREQ=MONTHLY;BYMONTHDAY=31"])
    assert is_occurrence(start, end, rec, parse_instance_suffix("20260131"))
    assert not is_occurrence(start, end, rec, parse_instance_suffix("20260228"))
    assert is_occurrence(start, end, rec, parse_instance_suffix("20260105"))  # DTSTART
    start, end, rec = _series(datetime(2026, 1, 5, 9), ["FREQ=DAILY"])
    assert is_occurrence(start, end, rec, parse_instance_suffix("20270105T090000"))
    assert not is_occurrence(start, end, rec, parse_instance_suffix("20270105T090000Z"))


def test_gap_instance_moves_forward_by_the_gap() -> None:
    # RFC 5545 §3.3.5, as Google and Apple read it: 02:30 becomes 03:30 EDT.
    start, end, rec = _series(datetime(2026, 3, 1, 2, 30, tzinfo=NY), ["FREQ=WEEKLY"])
    shifted = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert is_occurrence(start, end, rec, shifted)
    found = find_occurrence(start, end, rec, shifted)
    assert found is not None and found.index == 2
    assert found.original_start == datetime(2026, 3, 8, 3, 30, tzinfo=NY)
    assert not is_occurrence(start, end, rec, datetime(2026, 3, 8, 6, 30, tzinfo=UTC))


def test_occurrence_at() -> None:
    start, end, rec = _series(
        datetime(2026, 1, 5, 9, tzinfo=NY),
        ["FREQ=WEEKLY;COUNT=3"],
        exdates=[datetime(2026, 1, 12, 9, tzinfo=NY)],
    )
    at2 = occurrence_at(start, end, rec, 2)
    assert at2 is not None and at2.excluded and at2.original_start.day == 12  # type: ignore[union-attr]
    at3 = occurrence_at(start, end, rec, 3)
    assert at3 is not None and at3.instance_id_suffix == "20260119T140000Z"
    assert occurrence_at(start, end, rec, 4) is None
    with pytest.raises(ValueError):
        occurrence_at(start, end, rec, 0)
    endless = Rec(rrules=["FREQ=DAILY"])
    with pytest.raises(ValueError):
        occurrence_at(start, end, endless, 50_001)
    far = occurrence_at(start, end, endless, 50_000)
    assert far is not None and far.original_start.date() == date(2026, 1, 5) + timedelta(49_999)  # type: ignore[union-attr]


def test_iter_occurrences_is_lazy_for_endless_series() -> None:
    start, end, rec = _series(datetime(2026, 1, 5, 9, tzinfo=NY), ["FREQ=DAILY"])
    it = iter_occurrences(start, end, rec)
    assert [next(it).index for _ in range(3)] == [1, 2, 3]


def test_invalid_input_raises_value_error() -> None:
    start, end, _ = _series(datetime(2026, 1, 5, 9, tzinfo=NY), [])
    with pytest.raises(ValueError):
        expand(start, end, Rec(rrules=["FREQ=NEVER"]))
    with pytest.raises(ValueError):
        expand(start, to_proto(date(2026, 1, 6)), None)
    rec = Rec(rdates=[to_proto(date(2026, 1, 6))])
    with pytest.raises(ValueError, match="expected a date_time value"):
        expand(start, end, rec)
    simple = Rec()
    simple.simple.period = event_service_pb2.SimpleRecurrence.PERIOD_DAY
    with pytest.raises(ValueError, match="simple"):
        expand(start, end, simple)


def test_a_rule_whose_instances_all_fall_in_gaps_has_them_all_shifted() -> None:
    start, end, rec = _series(
        datetime(2026, 1, 5, 9, tzinfo=NY), ["FREQ=YEARLY;BYMONTH=3;BYDAY=2SU;BYHOUR=2;BYMINUTE=30"]
    )
    window = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))
    found = expand(start, end, rec, window_start=window[0], window_end=window[1]).occurrences
    assert [o.index for o in found] == [1, 2, 3]
    assert [o.original_start.isoformat() for o in found[1:]] == [
        "2026-03-08T03:30:00-04:00",
        "2027-03-14T03:30:00-04:00",
    ]


def test_sub_hourly_rule_drops_shifted_duplicates_and_stays_in_order() -> None:
    # 02:00 and 02:30 shift onto 03:00 and 03:30, which the rule names too.
    start, end, rec = _series(
        datetime(2026, 3, 8, 1, tzinfo=NY), ["FREQ=HOURLY;BYMINUTE=0,30;COUNT=6"]
    )
    found = expand(start, end, rec).occurrences
    walls = [o.original_start.strftime("%H:%M") for o in found]  # type: ignore[union-attr]
    assert walls == ["01:00", "01:30", "03:00", "03:30", "04:00", "04:30"]
    assert [o.index for o in found] == [1, 2, 3, 4, 5, 6]


def test_index_jump_counts_dropped_duplicates() -> None:
    # The arithmetic path (a window far from DTSTART) and a walk agree.
    start, end, rec = _series(datetime(2025, 1, 1, 0, 30, tzinfo=NY), ["FREQ=HOURLY;COUNT=20000"])
    window = (datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC))
    jumped = expand(start, end, rec, window_start=window[0], window_end=window[1]).occurrences
    walked = [o for o in expand(start, end, rec).occurrences if o in jumped]
    assert jumped and [o.index for o in jumped] == [o.index for o in walked]


@pytest.mark.parametrize(
    "start",
    [
        datetime(9999, 12, 25, 20, tzinfo=NY),
        datetime(9999, 12, 25, 20, tzinfo=ZoneInfo("Asia/Tokyo")),
        date(9999, 12, 25),
        datetime(9999, 12, 25, 20),
    ],
)
def test_series_running_into_year_9999_end_quietly(start: date | datetime) -> None:
    found = expand(
        to_proto(start),
        None,
        Rec(rrules=["FREQ=DAILY"]),
        floating_zone=ZoneInfo("Pacific/Kiritimati"),
    ).occurrences
    assert 5 <= len(found) <= 7
    assert found[-1].start_utc.year == 9999


def test_until_before_dtstart_means_no_instances() -> None:
    # Confluence marks a deleted series this way; other readers list none.
    start, end, rec = _series(date(2023, 10, 2), ["FREQ=WEEKLY;UNTIL=20231001;INTERVAL=2;BYDAY=MO"])
    assert expand(start, end, rec).occurrences == ()
    start, end, rec = _series(
        datetime(2023, 10, 2, 9, tzinfo=NY), ["FREQ=DAILY;UNTIL=20231001T000000Z"]
    )
    assert expand(start, end, rec).occurrences == ()
    rec.rdates.append(to_proto(datetime(2023, 10, 5, 9, tzinfo=NY)))
    assert [o.index for o in expand(start, end, rec).occurrences] == [1]
