"""The /metrics endpoint of real service processes: RPC counters by method
and code, latency histograms, store transactions, promtool's lint, and a
real Prometheus scraping them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from almanac.v1 import calendar_service_pb2 as cal_pb

from tests.helpers import expect_error
from tests.metrics_support import Prometheus, Scrape, metrics_address, promtool_check
from tests.services.activity.support import Cluster, sqlite_cluster

CAL = "almanac.v1.CalendarService"
RPCS = "almanac_rpc_requests_total"
LATENCY = "almanac_rpc_duration_seconds"
NAMES = ("account", "calendar", "event", "activity")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The services on a SQLite store, each with its /metrics on a free port."""
    running = sqlite_cluster(tmp_path_factory.mktemp("metrics"), NAMES, metrics_port="0")
    yield running
    running.close()


def _endpoint(cluster: Cluster, name: str) -> str:
    return metrics_address(cluster.procs[name])


def test_rpcs_are_counted_by_method_and_code_with_a_latency_histogram(cluster: Cluster) -> None:
    address = _endpoint(cluster, "calendar")
    account = cluster.new_account()
    before = Scrape(address)
    calendars = cluster.almanac.calendars()
    for n in range(3):
        account.create_calendar(f"Cal {n}")
    expect_error(
        grpc.StatusCode.NOT_FOUND,
        lambda: calendars.GetCalendar(cal_pb.GetCalendarRequest(name=account.calendar_name("no"))),
    )
    expect_error(
        grpc.StatusCode.UNAUTHENTICATED,
        lambda: cluster.almanac.calendars(None).ListCalendars(
            cal_pb.ListCalendarsRequest(parent=account.name)
        ),
    )
    after = Scrape(address)

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert moved(RPCS, service=CAL, method="CreateCalendar", code="OK") == 3
    assert moved(RPCS, service=CAL, method="GetCalendar", code="NOT_FOUND") == 1
    assert moved(RPCS, service=CAL, method="ListCalendars", code="UNAUTHENTICATED") == 1
    assert moved(RPCS, service=CAL, method="CreateCalendar", code="NOT_FOUND") == 0
    # The histogram: one observation per call, cumulative buckets ending at +Inf.
    series = {"service": CAL, "method": "CreateCalendar"}
    assert moved(f"{LATENCY}_count", **series) == 3
    assert moved(f"{LATENCY}_sum", **series) > 0
    buckets = after.buckets(LATENCY, **series)
    assert buckets[-1] == (float("inf"), after.value(f"{LATENCY}_count", **series))
    counts = [count for _, count in buckets]
    assert counts == sorted(counts), buckets
    assert len(buckets) == 14


def test_store_transactions_are_timed_by_dialect_and_outcome(cluster: Cluster) -> None:
    address = _endpoint(cluster, "calendar")
    account = cluster.new_account()
    name = "almanac_store_transaction_duration_seconds"
    before = Scrape(address).value(f"{name}_count", dialect="sqlite", outcome="commit")
    account.create_calendar("Timed")
    after = Scrape(address)
    assert after.value(f"{name}_count", dialect="sqlite", outcome="commit") > before
    assert after.series(f"{name}_count", dialect="postgresql") == []


def test_every_endpoint_passes_promtool(cluster: Cluster) -> None:
    cluster.new_account().create_calendar("Lint")
    for name in NAMES:
        scrape = Scrape(_endpoint(cluster, name))
        assert scrape.value("process_cpu_seconds_total") > 0, name
        promtool_check(scrape.text)


def test_only_metrics_is_served(cluster: Cluster) -> None:
    address = _endpoint(cluster, "event")
    assert httpx.get(f"http://{address}/", timeout=5).status_code == 404
    assert httpx.post(f"http://{address}/metrics", timeout=5).status_code == 405
    head = httpx.head(f"http://{address}/metrics", timeout=5)
    assert head.status_code == 200 and head.content == b""


def test_a_real_prometheus_scrapes_every_process(cluster: Cluster, tmp_path: Path) -> None:
    cluster.new_account().create_calendar("Scraped")
    prometheus = Prometheus(tmp_path / "prometheus", [_endpoint(cluster, n) for n in NAMES])
    try:
        up = prometheus.wait_for("up == 1", len(NAMES))
        assert {s["metric"]["instance"] for s in up} == {_endpoint(cluster, n) for n in NAMES}
        created = prometheus.wait_for(
            f'{RPCS}{{service="{CAL}",method="CreateCalendar",code="OK"}}', 1
        )
        assert float(created[0]["value"][1]) >= 1
        quantile = prometheus.wait_for(
            f'histogram_quantile(0.5, sum by (le) ({LATENCY}_bucket{{method="CreateCalendar"}}))',
            1,
        )
        assert 0 < float(quantile[0]["value"][1]) <= 10
    finally:
        prometheus.stop()
