"""The sync worker's metrics (runs, errors, lag per connector type) and the
upstream HTTP calls, from real processes syncing a fake Google and the
reference server (plugged in as the ``caldav`` connector)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from almanac.v1 import account_service_pb2 as acc_pb

from tests.connectors.google.support import GoogleSuite
from tests.metrics_support import Scrape, metrics_address, promtool_check

RUNS = "almanac_sync_runs_total"
UPSTREAM = "almanac_upstream_http_responses_total"


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GoogleSuite]:
    root: Path = tmp_path_factory.mktemp("sync-metrics")
    running = GoogleSuite(root, metrics_port="0")
    yield running
    running.close()


def _endpoint(suite: GoogleSuite, name: str) -> str:
    return metrics_address(suite.mirror.cluster.procs[name])


def _eventually(address: str, check: Callable[[Scrape], None], what: str) -> Scrape:
    deadline = time.monotonic() + 20
    while True:
        scrape = Scrape(address)
        try:
            check(scrape)
            return scrape
        except AssertionError as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"not within 20s: {what}: {exc}") from None
            time.sleep(0.1)


def test_google_syncs_and_upstream_calls_are_counted(suite: GoogleSuite) -> None:
    account_before = Scrape(_endpoint(suite, "account"))
    started = time.time()
    suite.account()  # validated upstream by CreateAccount, then synced once
    sync = _endpoint(suite, "sync")

    def synced(scrape: Scrape) -> None:
        assert scrape.value(RUNS, connector="google", outcome="success") >= 1
        assert scrape.value("almanac_sync_accounts", connector="google") == 1
        assert scrape.value("almanac_sync_accounts_never_synced", connector="google") == 0
        assert scrape.value("almanac_sync_run_duration_seconds_count", connector="google") >= 1
        assert scrape.value(UPSTREAM, connector="google", method="GET", code="200") >= 1
        assert scrape.value(UPSTREAM, connector="google", method="POST", code="200") >= 1

    scrape = _eventually(sync, synced, "a google sync")
    lag = scrape.value("almanac_sync_lag_seconds", connector="google")
    assert scrape.series("almanac_sync_lag_seconds", connector="google")
    assert 0 <= lag <= time.time() - started + 1
    assert scrape.series(RUNS, connector="unknown") == []
    promtool_check(scrape.text)
    # CreateAccount's own check went upstream from the account service.
    account_after = Scrape(_endpoint(suite, "account"))
    google = {"connector": "google", "code": "200"}
    assert account_after.value(UPSTREAM, **google) > account_before.value(UPSTREAM, **google)


def test_failed_syncs_are_counted_by_connector_and_reason(suite: GoogleSuite) -> None:
    sync = _endpoint(suite, "sync")
    account = suite.mirror.remote_account()  # the reference server, as caldav
    user = account.name.split("/")[1]
    before = Scrape(sync)
    errors = {"connector": "caldav", "reason": "UPSTREAM_UNAVAILABLE"}
    suite.mirror.upstream.fail({"list_calendars"}, 503, count=1, retry_after=None, user=user)
    suite.almanac.accounts().SyncAccount(acc_pb.SyncAccountRequest(name=account.name))

    def failed(scrape: Scrape) -> None:
        assert scrape.value("almanac_sync_errors_total", **errors) > before.value(
            "almanac_sync_errors_total", **errors
        )
        assert scrape.value(RUNS, connector="caldav", outcome="failure") > before.value(
            RUNS, connector="caldav", outcome="failure"
        )

    _eventually(sync, failed, "a failed caldav sync")
    # The failure is retried and succeeds: the account is not failing any more.
    suite.mirror.wait_synced(user, after=time.time())
    _eventually(
        sync,
        lambda s: _assert_equal(s.value("almanac_sync_accounts_failing", connector="caldav"), 0),
        "no failing caldav account",
    )


def _assert_equal(got: float, want: float) -> None:
    assert got == want, (got, want)
