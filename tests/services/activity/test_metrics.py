"""The activity service's metrics: its open subscribers and how far behind they are."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest

from connectors.state.activity_log import decode_cursor
from services.activity.metrics import ActivityCollector
from tests.metrics_support import Scrape, metrics_address, promtool_check
from tests.services.activity.support import Cluster, new_event, sqlite_cluster

# As in test_faults: without BDP probing the client's window stays at 64 KiB,
# so a paused reader soon blocks the server's writes.
SMALL_WINDOW = (("grpc.http2.bdp_probe", 0),)
BIG = 16_000


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = sqlite_cluster(tmp_path_factory.mktemp("activity-metrics"), metrics_port="0")
    yield running
    running.close()


def _eventually(check: Callable[[], Scrape], what: str, timeout: float = 15.0) -> Scrape:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout:g}s: {what}: {exc}") from None
            time.sleep(0.1)


def test_subscribers_and_their_lag_are_reported(cluster: Cluster) -> None:
    address = metrics_address(cluster.procs["activity"])
    account = cluster.new_account()
    client = cluster.activity(options=SMALL_WINDOW)
    start = client.latest()
    before = Scrape(address)
    sub = client.subscribe("slow", parent=account.name, cursor=start, heartbeat=1)
    try:
        sub.wait_for(lambda: len(sub.heartbeats) >= 1, 10, "a first heartbeat")

        def one_subscriber() -> Scrape:
            scrape = Scrape(address)
            assert scrape.value("almanac_activity_subscribers") == 1
            return scrape

        _eventually(one_subscriber, "one subscriber")
        sub.pause()
        for _ in range(40):
            new_event(cluster.almanac, account.primary, description="d" * BIG)
        latest = decode_cursor(client.latest())

        def behind() -> Scrape:
            scrape = Scrape(address)
            assert scrape.value("almanac_activity_feed_head") == latest
            assert scrape.value("almanac_activity_subscriber_lag_max") > 0
            return scrape

        lagging = _eventually(behind, "a paused subscriber behind the feed")
        lag = lagging.value("almanac_activity_subscriber_lag_max")
        assert lag <= 40
        assert lagging.value("almanac_activity_subscriber_backlog") == lag
        assert lagging.value("almanac_activity_feed_window") > 0
        promtool_check(lagging.text)
        sub.resume()

        def caught_up() -> Scrape:
            scrape = Scrape(address)
            assert scrape.value("almanac_activity_subscriber_lag_max") == 0
            return scrape

        _eventually(caught_up, "the subscriber caught up")
    finally:
        sub.stop()

    def closed() -> Scrape:
        scrape = Scrape(address)
        assert scrape.value("almanac_activity_subscribers") == 0
        return scrape

    after = _eventually(closed, "no subscriber left")
    # A stream is counted (cancelled by its client) but kept out of the latency histogram.
    labels = {"method": "StreamActivity", "code": "CANCELLED"}
    counted = after.value("almanac_rpc_requests_total", **labels)
    assert counted - before.value("almanac_rpc_requests_total", **labels) == 1
    assert after.series("almanac_rpc_duration_seconds_count", method="StreamActivity") == []


def test_lag_is_the_feed_head_minus_each_stream_position() -> None:
    # The arithmetic alone, on the collector the process registers.
    feed = SimpleNamespace(head=100, floor=40)
    streams = [SimpleNamespace(position=40), SimpleNamespace(position=90)]
    service = cast(Any, SimpleNamespace(feed=feed, streams=streams))
    values = {m.name: m.samples[0].value for m in ActivityCollector(service).collect()}
    assert values == {
        "almanac_activity_subscribers": 2,
        "almanac_activity_subscriber_lag_max": 60,
        "almanac_activity_subscriber_backlog": 70,
        "almanac_activity_feed_window": 60,
        "almanac_activity_feed_head": 100,
    }
    service.streams = []
    values = {m.name: m.samples[0].value for m in ActivityCollector(service).collect()}
    assert values["almanac_activity_subscriber_lag_max"] == 0
