"""Instance-id suffixes: `{series id}_{original start}`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.recurrence import occurrence_key, parse_instance_suffix, split_instance_id

ZONES = [ZoneInfo(z) for z in ("America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago")]


def test_forms() -> None:
    assert occurrence_key(date(2026, 3, 1)) == "20260301"
    assert occurrence_key(datetime(2026, 3, 1, 9, 30)) == "20260301T093000"
    ny = datetime(2026, 3, 1, 9, 30, tzinfo=ZoneInfo("America/New_York"))
    assert occurrence_key(ny) == "20260301T143000Z"
    # The same instant in another zone has the same suffix.
    assert occurrence_key(ny.astimezone(ZoneInfo("Asia/Tokyo"))) == "20260301T143000Z"


@pytest.mark.parametrize(
    ("suffix", "value"),
    [
        ("20260301", date(2026, 3, 1)),
        ("20260301T093000", datetime(2026, 3, 1, 9, 30)),
        ("20260301T143000Z", datetime(2026, 3, 1, 14, 30, tzinfo=UTC)),
    ],
)
def test_parse(suffix: str, value: date | datetime) -> None:
    parsed = parse_instance_suffix(suffix)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(
    "suffix",
    [
        "",
        "2026031",
        "20260230",
        "20260301T",
        "20260301T250000Z",
        "20260301T0930",
        "20260301t093000z",
        "20260301T093000+01",
        "x20260301",
    ],
)
def test_parse_rejects(suffix: str) -> None:
    with pytest.raises(ValueError):
        parse_instance_suffix(suffix)


def test_split_instance_id() -> None:
    assert split_instance_id("abc_20260301") == ("abc", date(2026, 3, 1))
    assert split_instance_id("team_sync_20260301T143000Z") == (
        "team_sync",
        datetime(2026, 3, 1, 14, 30, tzinfo=UTC),
    )
    assert split_instance_id("no-suffix") is None
    assert split_instance_id("_20260301") is None
    assert split_instance_id("a_b") is None


@given(
    st.one_of(
        st.dates(),
        st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
            lambda d: d.replace(microsecond=0)
        ),
        st.tuples(
            st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
            st.sampled_from(ZONES),
        ).map(lambda p: p[0].replace(microsecond=0, tzinfo=UTC).astimezone(p[1])),
    )
)
def test_round_trip(value: date | datetime) -> None:
    suffix = occurrence_key(value)
    parsed = parse_instance_suffix(suffix)
    assert parsed == value
    assert occurrence_key(parsed) == suffix
    assert split_instance_id(f"series.1_{suffix}") == ("series.1", parsed)


def test_suffix_sorts_like_the_instants() -> None:
    base = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
    instants = [base + timedelta(minutes=15 * i) for i in range(12)]
    suffixes = [occurrence_key(i.astimezone(ZONES[0])) for i in instants]
    assert suffixes == sorted(suffixes)
