"""Sync workers as processes: leases across workers, SIGKILL mid-sync."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb

from tests.connectors.support import MirrorSuite, eventually, upstream_event
from tests.helpers import pg_reachable
from tests.services.activity.support import create_pg_database, drop_pg_database, spawn

PULLS = {"list_calendars", "changes", "list_items"}


def _mirrored(suite: MirrorSuite, account: str) -> list[ev_pb.Event]:
    return suite.events(account)


@pytest.mark.postgres
@pytest.mark.slow
def test_two_workers_never_pull_one_account_at_once(tmp_path: Path) -> None:
    assert pg_reachable(), "PostgreSQL must answer on 127.0.0.1:5432"
    url = create_pg_database()
    suite = MirrorSuite(
        url, tmp_path, names=("account", "calendar", "event", "activity"),
        sync_lease_seconds="5", log_level="DEBUG",
    )  # fmt: skip
    workers = [spawn("sync", suite.cluster.env, tmp_path / "logs") for _ in range(2)]
    try:
        suite.upstream.latency = 0.02  # every pull takes a while: overlaps would show
        users = [suite.remote_account().name.split("/")[1] for _ in range(4)]
        for n, user in enumerate(users):
            for i in range(n + 2):
                suite.upstream.put(user, "cal0", f"e{i}", [upstream_event(f"e{i}", f"E{i}")])
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            for user in users:
                suite.almanac.accounts().SyncAccount(
                    acc_pb.SyncAccountRequest(name=f"accounts/{user}")
                )
            time.sleep(0.1)
        for n, user in enumerate(users):
            eventually(lambda u=user, k=n + 2: _assert_count(suite, u, k), 15, f"{user}")
        pulls = [r for r in suite.upstream.requests if r[1] in PULLS]
        assert len(pulls) > 40, len(pulls)
        overlapping = [o for o in suite.upstream.overlaps if o[1] in PULLS]
        assert overlapping == [], "two workers pulled one account at once"
        synced_by = [set(re.findall(r"(\S+) synced accounts/", w.logs())) for w in workers]
        assert all(synced_by), "both workers should have synced some accounts"
    finally:
        for worker in workers:
            worker.terminate()
        suite.close()
        drop_pg_database(url)


def _assert_count(suite: MirrorSuite, user: str, count: int) -> None:
    assert len(_mirrored(suite, user)) == count


@pytest.mark.slow
def test_worker_killed_mid_sync_loses_nothing(tmp_path: Path) -> None:
    suite = MirrorSuite(f"sqlite:///{tmp_path / 'almanac.db'}", tmp_path, sync_lease_seconds="1")
    try:
        account = suite.remote_account()
        user = account.name.split("/")[1]
        cursor = suite.cluster.activity().log(parent=account.name, page_size=1)[1]
        suite.upstream.page_size = 20
        for i in range(200):
            suite.upstream.put(user, "cal0", f"e{i:03d}", [upstream_event(f"e{i:03d}", "x")])
        suite.upstream.latency = 0.15
        eventually(lambda: _assert_between(suite, user, 20, 160), 20, "a sync half done")
        suite.cluster.kill("sync")
        killed_at = time.monotonic()
        suite.upstream.latency = 0
        suite.cluster.restart("sync", same_port=False)
        eventually(lambda: _assert_count(suite, user, 200), 30, "all 200 events mirrored")
        added = [
            a.event_snapshot.ical_uid
            for a in suite.cluster.activity().log(
                parent=account.name, cursor=cursor,
                resource_types=[common_pb2.RESOURCE_TYPE_EVENT],
            )[0]
            if a.type == act_pb.ACTIVITY_TYPE_ADDED
        ]  # fmt: skip
        assert sorted(added) == [f"e{i:03d}" for i in range(200)], "lost or duplicated"
        resumed = [
            r[2] for r in suite.upstream.requests
            if r[0] == user and r[1] == "changes" and r[4] > killed_at
        ]  # fmt: skip
        assert resumed, [r[:4] for r in suite.upstream.requests if r[0] == user]
        position = int(resumed[0].split(".")[1])
        # The log held 200 changes: the new worker went on from a page the
        # killed one had stored, neither from the start nor past the end.
        assert 0 < position < 200, f"did not resume from a stored page: {resumed[0]}"
    finally:
        suite.close()


def _assert_between(suite: MirrorSuite, user: str, low: int, high: int) -> None:
    assert low <= len(_mirrored(suite, user)) <= high
