"""The per-token rate limit: a token bucket, and RESOURCE_EXHAUSTED with RetryInfo."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from almanac.v1 import calendar_service_pb2 as cal_pb
from google.rpc import error_details_pb2

from connectors.errors import RateLimited
from services.runtime.ratelimit import RateLimiter
from tests.helpers import expect_error
from tests.services.activity.support import Cluster


def test_bucket_refills_at_the_rate_and_is_per_token() -> None:
    now = [0.0]
    limiter = RateLimiter(2.0, 3, clock=lambda: now[0])
    for _ in range(3):
        limiter.take("a")
    with pytest.raises(RateLimited) as caught:
        limiter.take("a")
    assert caught.value.retry_after == pytest.approx(0.5)
    limiter.take("b")  # another token has its own bucket
    now[0] += 0.5
    limiter.take("a")
    with pytest.raises(RateLimited):
        limiter.take("a")


def test_over_the_limit_is_resource_exhausted_with_retry_info(tmp_path: Path) -> None:
    cluster = Cluster(
        f"sqlite:///{tmp_path / 'almanac.db'}",
        tmp_path / "logs",
        ("account", "calendar"),
        rate_limit_per_second="0.5",
        rate_limit_burst="3",
    )
    try:
        almanac = cluster.almanac
        account = almanac.create_local_account().name
        token = almanac.token(["calendars:read"], [account])
        calendars = almanac.calendars(token)
        request = cal_pb.ListTimeZonesRequest(page_size=1)
        for _ in range(3):
            calendars.ListTimeZones(request)
        failure = expect_error(
            grpc.StatusCode.RESOURCE_EXHAUSTED, lambda: calendars.ListTimeZones(request)
        )
        assert failure.reason == "RATE_LIMITED"
        retry = [d for d in failure.status.details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
        assert len(retry) == 1
        info = error_details_pb2.RetryInfo()
        retry[0].Unpack(info)
        assert 0 < info.retry_delay.ToTimedelta().total_seconds() <= 2
        almanac.calendars().ListTimeZones(request)  # the admin token has its own bucket
    finally:
        cluster.close()
