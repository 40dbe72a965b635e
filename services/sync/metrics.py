"""Metrics of the sync worker: runs, errors and lag per connector type.

Runs and errors are what this worker did (``almanac_sync_runs_total``,
``almanac_sync_errors_total``, ``almanac_sync_run_duration_seconds``), fed
by `connectors.sync.worker` through `connectors.telemetry`.

Lag is read from the store at each scrape, so it is the deployment's, not
this worker's: every worker reports the same value (aggregate with max()).
``almanac_sync_lag_seconds{connector}`` is the age of the oldest last
success among the accounts of that type that have synced at least once; an
account that never has is counted in ``almanac_sync_accounts_never_synced``
instead (a lag from the epoch would only drown the others). With
``sync_interval_seconds`` at 60, a lag well above a few intervals, or a
never-synced count that stays up, means accounts are not being synced.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram

from connectors import telemetry
from connectors.store import Store
from connectors.sync import ledger
from services.runtime import metrics

__all__ = ["install"]

SYNC_RUNS = Counter(
    "almanac_sync_runs",
    "Account syncs this worker ran, by connector type and outcome (success, failure, "
    "crashed, store_error, lease_lost, raced).",
    ("connector", "outcome"),
)
SYNC_ERRORS = Counter(
    "almanac_sync_errors",
    "Account syncs that failed, by connector type and the error's reason.",
    ("connector", "reason"),
)
SYNC_DURATION = Histogram(
    "almanac_sync_run_duration_seconds",
    "How long one account's sync took, by connector type.",
    ("connector",),
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
)
SYNC_LAG = Gauge(
    "almanac_sync_lag_seconds",
    "Age of the oldest last successful sync among the remote accounts of a connector type "
    "(accounts that never synced are left out).",
    ("connector",),
)
SYNC_ACCOUNTS = Gauge(
    "almanac_sync_accounts",
    "Remote accounts the sync workers keep, by connector type.",
    ("connector",),
)
SYNC_FAILING = Gauge(
    "almanac_sync_accounts_failing",
    "Remote accounts whose last sync failed, by connector type.",
    ("connector",),
)
SYNC_NEVER = Gauge(
    "almanac_sync_accounts_never_synced",
    "Remote accounts that have not synced successfully yet, by connector type.",
    ("connector",),
)


def _observe(run: telemetry.SyncRun) -> None:
    SYNC_RUNS.labels(run.connector, run.outcome).inc()
    SYNC_DURATION.labels(run.connector).observe(run.seconds)
    if run.reason:
        SYNC_ERRORS.labels(run.connector, run.reason).inc()


async def _refresh_lag(store: Store) -> None:
    totals = await ledger.sync_totals(store)
    now_us = time.time_ns() // 1000
    # Cleared and refilled without an await in between: a scrape never sees
    # half of it, and a connector type whose accounts are gone disappears.
    for gauge in (SYNC_LAG, SYNC_ACCOUNTS, SYNC_FAILING, SYNC_NEVER):
        gauge.clear()
    for total in totals:
        kind = telemetry.connector_kind(total.connector)
        SYNC_ACCOUNTS.labels(kind).set(total.accounts)
        SYNC_FAILING.labels(kind).set(total.failing)
        SYNC_NEVER.labels(kind).set(total.never_synced)
        if total.oldest_success_us is not None:
            SYNC_LAG.labels(kind).set(max(0, now_us - total.oldest_success_us) / 1e6)


def install(store: Store) -> None:
    """Count this process's sync runs and report the lag read from ``store``."""
    telemetry.set_sync_observer(_observe)

    async def refresh() -> None:
        await _refresh_lag(store)

    metrics.add_refresher(refresh)
