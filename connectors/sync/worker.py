"""The sync worker: keeps every remote account's mirror following its upstream.

Each round it enrolls new remote accounts, takes the lease of each account
that is due (so no two workers, in any number of processes, sync one account
at once), pulls the upstream's changes with the backend's change tracking and
applies them page by page, each page in one transaction that re-checks the
lease and appends the activity. An expired change token (or a first sync)
is a full listing that ends with exactly the upstream's data. Failures back
off exponentially; the account's sync state records all of it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from almanac.v1 import account_service_pb2 as acc_pb

from connectors import telemetry
from connectors.base import WriteContext
from connectors.errors import ConnectorError, RateLimited, Unauthenticated, Unavailable
from connectors.local.events.writes import EventTx
from connectors.remote import REAUTH_REQUIRED, RemoteBackend, SyncTokenExpired
from connectors.store import Store, Transaction
from connectors.store.base import StoreError
from connectors.store.rows import now_us

from . import ledger
from .apply import UPSTREAM_ACTOR, apply_batch, remove_uids
from .calendars import sync_calendars

__all__ = ["SyncOptions", "SyncWorker"]

_log = logging.getLogger("almanac.sync")


@dataclass(frozen=True)
class SyncOptions:
    interval: float = 60.0  # seconds between two pulls of one account
    poll: float = 1.0  # how often the worker looks for due accounts
    lease: float = 60.0  # how long a lease lasts without renewal
    max_backoff: float = 900.0
    concurrency: int = 4  # accounts one worker syncs at once
    # An account whose upstream wants a new consent waits this long, or until
    # its settings change (UpdateAccount asks for a sync then).
    reauth_wait: float = 86400.0


class SyncWorker:
    def __init__(
        self,
        store: Store,
        backend_for: Callable[[str], Awaitable[RemoteBackend]],
        options: SyncOptions,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.backend_for = backend_for
        self.options = options
        self.owner = owner or f"worker-{secrets.token_hex(6)}"
        self._running: dict[str, asyncio.Task[None]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.round()
            except (ConnectorError, StoreError) as exc:  # the store failed: try again later
                _log.warning("sync round failed: %s", exc)
            try:
                await asyncio.wait_for(stop.wait(), self.options.poll)
            except TimeoutError:
                pass
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def round(self) -> None:
        """Start a sync for each due account, up to the concurrency limit."""
        await ledger.enroll_remote_accounts(self.store)
        free = self.options.concurrency - len(self._running)
        if free <= 0:
            return
        for account in await ledger.due_accounts(self.store, free + len(self._running)):
            if account in self._running or len(self._running) >= self.options.concurrency:
                continue
            task = asyncio.create_task(self.sync_account(account))
            self._running[account] = task
            task.add_done_callback(self._finished(account))

    def _finished(self, account: str) -> Callable[[asyncio.Task[None]], None]:
        def done(_: asyncio.Task[None]) -> None:
            self._running.pop(account, None)

        return done

    async def sync_account(self, account: str) -> None:
        """One sync of one account, if its lease can be had."""
        owner, opts = self.owner, self.options
        try:
            if not await ledger.acquire_lease(self.store, account, owner, opts.lease):
                return
        except StoreError as exc:
            _log.warning("sync of accounts/%s: the store is busy (%s)", account, exc)
            return
        run, started = telemetry.SyncRun(), time.perf_counter()
        try:
            await self._pull(account, run)
            await ledger.record_success(self.store, account, owner, opts.interval)
            _log.debug("%s synced accounts/%s", owner, account)
        except ledger.LeaseLost:
            run.outcome = "lease_lost"
            _log.warning("sync of accounts/%s: lease lost, dropping the pull", account)
        except ledger.PullRaced:
            # Not a failure: the pull is redone at once, after the write.
            run.outcome = "raced"
            await ledger.request_sync(self.store, account)
        except ConnectorError as exc:
            run.outcome, run.reason = "failure", exc.reason or type(exc).__name__
            failures = await ledger.failures(self.store, account)
            retry = min(opts.max_backoff, opts.interval, 2.0**failures) * random.uniform(1, 1.25)
            if isinstance(exc, RateLimited | Unavailable) and exc.retry_after:
                # The upstream said when (Google asks clients to back off).
                retry = max(retry, min(exc.retry_after, opts.max_backoff))
            if isinstance(exc, Unauthenticated) and exc.reason == REAUTH_REQUIRED:
                retry = opts.reauth_wait
            _log.warning("sync of accounts/%s failed (%s); retry in %.1fs", account, exc, retry)
            await ledger.record_failure(self.store, account, owner, exc, retry)
        except StoreError as exc:
            run.outcome = "store_error"
            # E.g. SQLite locked by a long write-through: the lease runs out
            # or is released below, and a later round tries again.
            _log.warning("sync of accounts/%s: the store failed (%s)", account, exc)
        except Exception:
            # A backend bug must not kill the task silently and hold the lease
            # until it expires: record it like any failure, with the trace in the log.
            _log.exception("sync of accounts/%s crashed", account)
            run.outcome, run.reason = "crashed", "CONNECTOR_CRASHED"
            crash = ConnectorError("the connector failed unexpectedly", reason="CONNECTOR_CRASHED")
            await ledger.record_failure(self.store, account, owner, crash, opts.interval)
        finally:
            try:
                await ledger.release_lease(self.store, account, owner)
            except StoreError as exc:
                _log.warning("accounts/%s: lease not released (%s)", account, exc)
            run.seconds = time.perf_counter() - started
            telemetry.sync_finished(run)

    async def _pull(self, account: str, run: telemetry.SyncRun) -> None:
        backend = await self.backend_for(account)
        run.connector = telemetry.connector_kind(
            acc_pb.ConnectorType.Name(backend.account.connector)
        )
        started = now_us()
        upstream = await backend.list_calendars()
        async with self.store.transaction() as tx:
            await ledger.renew_lease(tx, account, self.owner, self.options.lease)
            await ledger.check_fresh(tx, account, started)
            await sync_calendars(tx, self.store.dialect, account, upstream)
        for mapped in await ledger.mirror_calendars(self.store, account):
            try:
                await self._pull_calendar(account, backend, mapped, started)
            except SyncTokenExpired:
                _log.info("accounts/%s/calendars/%s: token expired, full resync",
                          account, mapped.calendar_id)  # fmt: skip
                await self._pull_calendar(account, backend, replace(mapped, sync_token=""), started)

    async def _pull_calendar(
        self, account: str, backend: RemoteBackend, mapped: ledger.MirrorCalendar, started: int
    ) -> None:
        """Pull pages until the upstream says done; a full listing also removes
        what the upstream no longer has."""
        full = not mapped.sync_token
        token, seen = mapped.sync_token, set[str]()
        while True:
            batch = await backend.changes(mapped.remote_id, token)
            seen.update(i.uid for i in batch.items)
            async with self.store.transaction() as tx:
                await ledger.renew_lease(tx, account, self.owner, self.options.lease)
                await ledger.check_fresh(tx, account, started)
                await apply_batch(
                    tx, self.store.dialect, account, mapped.calendar_id, batch, started
                )
                if full and not batch.more:
                    await _remove_unseen(tx, self.store.dialect, account, mapped, seen)
                # An incremental pull resumes from any page; a full listing is
                # only a state to resume from once it is complete.
                if not full or not batch.more:
                    await ledger.set_sync_token(tx, account, mapped.calendar_id, batch.token)
            token = batch.token
            if not batch.more:
                return


async def _remove_unseen(
    tx: Transaction, dialect: str, account: str, mapped: ledger.MirrorCalendar, seen: set[str]
) -> None:
    etx = EventTx(tx, dialect, account, mapped.calendar_id, WriteContext(UPSTREAM_ACTOR))
    held = await ledger.mirrored_uids(tx, account, mapped.calendar_id)
    await remove_uids(etx, sorted(held - seen))
