"""The availability service process and builders shared by the availability tests.

The shared fixture (``tests/conftest.py``) runs the account, calendar and
event services; ``availability`` adds one ``python -m services serve
availability`` process per store, on the same store and bootstrap token,
started on first use and stopped at the end of the session. Test modules
import ``availability_fixture`` and ``availability_processes_fixture`` from
here and ask for ``availability``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from almanac.v1 import availability_service_pb2_grpc as av_grpc
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import duration_pb2, timestamp_pb2
from google.type import date_pb2, timeofday_pb2

from tests.helpers import Almanac, AuthedStub, ServiceProcess, service_env, start_service
from tests.services.availability.oracle import EPOCH, minute_of, moment

__all__ = [
    "AvailabilityClient",
    "at",
    "availability_fixture",
    "availability_processes_fixture",
    "day",
    "dur",
    "ev",
    "local",
    "minutes_of",
    "tod",
    "trange",
    "ts",
    "utc",
    "weekly",
]

UTC = dt.UTC

# One process per store URL, shared by every module that imports the fixtures.
_RUNNING: dict[str, ServiceProcess] = {}


@pytest.fixture(scope="session", name="availability_processes")
def availability_processes_fixture(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, ServiceProcess]]:
    yield _RUNNING
    for proc in list(_RUNNING.values()):
        proc.terminate()
    _RUNNING.clear()


@dataclass
class AvailabilityClient:
    almanac: Almanac
    address: str

    def __call__(self, token: str | None = "") -> Any:
        """AvailabilityService client; ``""`` means the admin token, None no token."""
        return AuthedStub(
            av_grpc.AvailabilityServiceStub(self.almanac.channel(self.address)),
            self.almanac.admin_secret if token == "" else token,
        )


@pytest.fixture(name="availability")
def availability_fixture(
    almanac: Almanac,
    availability_processes: dict[str, ServiceProcess],
    tmp_path_factory: pytest.TempPathFactory,
) -> AvailabilityClient:
    """The availability service of the test's store."""
    proc = availability_processes.get(almanac.store_url)
    if proc is None or not proc.alive():
        env = service_env(almanac.store_url, almanac.admin_secret)
        proc = start_service("availability", env, tmp_path_factory.mktemp("availability-logs"))
        availability_processes[almanac.store_url] = proc
    return AvailabilityClient(almanac, proc.address)


# --- builders ------------------------------------------------------------------------


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)  # type: ignore[arg-type, misc]


def local(zone: str, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZoneInfo(zone))  # type: ignore[arg-type, misc]


def ts(value: dt.datetime | int) -> timestamp_pb2.Timestamp:
    """A Timestamp of an aware datetime or of whole minutes since the epoch."""
    if isinstance(value, int):
        value = moment(value)
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value.astimezone(UTC))
    return out


def minutes_of(value: timestamp_pb2.Timestamp) -> int:
    return minute_of(EPOCH + dt.timedelta(seconds=value.seconds, microseconds=value.nanos // 1000))


def trange(start: dt.datetime | int, end: dt.datetime | int) -> common_pb2.TimeRange:
    return common_pb2.TimeRange(start_time=ts(start), end_time=ts(end))


def dur(minutes: int = 0, *, seconds: int = 0, nanos: int = 0) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=minutes * 60 + seconds, nanos=nanos)


def at(moment_: dt.datetime, zone: str = "") -> common_pb2.EventTime:
    """A timed EventTime; ``zone`` defaults to the datetime's own zone."""
    if not zone and isinstance(moment_.tzinfo, ZoneInfo):
        zone = moment_.tzinfo.key
    return common_pb2.EventTime(date_time=ts(moment_), time_zone=zone)


def day(value: dt.date) -> common_pb2.EventTime:
    date = date_pb2.Date(year=value.year, month=value.month, day=value.day)
    return common_pb2.EventTime(date=date)


def tod(minutes: int) -> timeofday_pb2.TimeOfDay:
    return timeofday_pb2.TimeOfDay(hours=minutes // 60, minutes=minutes % 60)


def weekly(days: Sequence[int], start: int, end: int) -> list[cal_pb.WeeklyInterval]:
    """Weekly intervals (``days`` as google.type.DayOfWeek numbers, times in minutes)."""
    return [cal_pb.WeeklyInterval(day=d, start_time=tod(start), end_time=tod(end)) for d in days]


def ev(start: dt.datetime, end: dt.datetime, **fields: Any) -> ev_pb.Event:
    return ev_pb.Event(start=at(start), end=at(end), **fields)
