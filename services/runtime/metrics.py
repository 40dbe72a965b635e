"""The Prometheus metrics every Almanac process shares, and how they are fed.

One process, one registry: the metrics live in prometheus_client's default
registry (which adds the ``process_*`` and ``python_*`` collectors) and
`services.runtime.exporter` serves it on ``metrics_port``. What a process
measures depends on what it runs:

- every gRPC server: ``almanac_rpc_requests_total{service,method,code}``
  and ``almanac_rpc_duration_seconds{service,method}`` (unary RPCs only: a
  stream's duration is how long its client stayed, not a latency), fed by
  the runtime interceptor through `RpcMetrics`;
- every process with a store: ``almanac_store_transaction_duration_seconds
  {dialect,outcome}``, by `instrument_store`;
- every process with connectors: ``almanac_upstream_http_responses_total
  {connector,method,code}``, through `connectors.telemetry`;
- the activity service and the sync worker add their own
  (`services.activity.metrics`, `services.sync.metrics`).

Gauges that are read from the store (sync lag) cannot be computed in a
synchronous collector, so such modules register an async refresher with
`add_refresher`; the exporter awaits them before each scrape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any

import grpc
from prometheus_client import Counter, Histogram

from connectors import telemetry
from connectors.store import Store, Transaction

__all__ = [
    "RPC_DURATION",
    "RPC_REQUESTS",
    "STORE_TRANSACTIONS",
    "UPSTREAM_RESPONSES",
    "RpcMetrics",
    "add_refresher",
    "install",
    "instrument_store",
    "refresh",
]

_log = logging.getLogger("almanac.metrics")

# Latency buckets from 1 ms (a cached read) to 10 s (the upstream timeout).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

RPC_REQUESTS = Counter(
    "almanac_rpc_requests",
    "RPCs handled, by gRPC service, method and status code.",
    ("service", "method", "code"),
)
RPC_DURATION = Histogram(
    "almanac_rpc_duration_seconds",
    "Time from an RPC's arrival to its status, unary and client-streaming RPCs only.",
    ("service", "method"),
    buckets=LATENCY_BUCKETS,
)
STORE_TRANSACTIONS = Histogram(
    "almanac_store_transaction_duration_seconds",
    "Store transactions from asking for one (SQLite's write lock included) to the end of "
    "its commit or rollback, by dialect and outcome.",
    ("dialect", "outcome"),
    buckets=LATENCY_BUCKETS,
)
UPSTREAM_RESPONSES = Counter(
    "almanac_upstream_http_responses",
    "HTTP responses the remote connectors received, by connector type, method and status code.",
    ("connector", "method", "code"),
)


class RpcMetrics:
    """What the runtime interceptor calls once per RPC; cheap on the hot path.

    The labelled children are resolved once per (method, code) and cached,
    so an observation is a dict look-up, a counter increment and (unary
    RPCs) a histogram observation: no string work per call.
    """

    __slots__ = ("_children",)

    def __init__(self) -> None:
        self._children: dict[tuple[str, grpc.StatusCode], tuple[Any, Any]] = {}

    def observe(self, method: str, code: grpc.StatusCode, seconds: float, streaming: bool) -> None:
        children = self._children.get((method, code))
        if children is None:
            children = self._resolve(method, code, streaming)
        children[0].inc()
        if children[1] is not None:
            children[1].observe(seconds)

    def _resolve(self, method: str, code: grpc.StatusCode, streaming: bool) -> tuple[Any, Any]:
        service, _, name = method.lstrip("/").rpartition("/")
        children = (
            RPC_REQUESTS.labels(service, name, code.name),
            # Not even created for a stream: an empty series would read as "no latency".
            None if streaming else RPC_DURATION.labels(service, name),
        )
        self._children[(method, code)] = children
        return children


# --- store transactions ---------------------------------------------------------


class _TimedTransaction:
    """Wraps one ``store.transaction()`` block and times it."""

    __slots__ = ("_block", "_children", "_start")

    def __init__(
        self, block: AbstractAsyncContextManager[Transaction], children: dict[str, Any]
    ) -> None:
        self._block = block
        self._children = children  # outcome -> the histogram's child of this store's dialect
        self._start = 0.0

    async def __aenter__(self) -> Transaction:
        self._start = time.perf_counter()
        return await self._block.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        outcome = "rollback"
        try:
            result = await self._block.__aexit__(exc_type, exc, tb)
            if exc_type is None:
                outcome = "commit"
            return result
        finally:
            self._children[outcome].observe(time.perf_counter() - self._start)


def instrument_store(store: Store) -> None:
    """Time every transaction of ``store`` from now on (idempotent).

    The method is replaced on this one instance, from outside, so that the
    store backends stay free of metrics and every holder of the store (the
    registry, the connectors, the servicers) is measured alike.
    """
    if getattr(store, "_almanac_timed", False):
        return
    original = store.transaction
    children = {o: STORE_TRANSACTIONS.labels(store.dialect, o) for o in ("commit", "rollback")}

    def transaction() -> _TimedTransaction:
        return _TimedTransaction(original(), children)

    # setattr: mypy rightly objects to assigning to a method; this is the point.
    setattr(store, "transaction", transaction)  # noqa: B010
    setattr(store, "_almanac_timed", True)  # noqa: B010


# --- upstream HTTP --------------------------------------------------------------


def _count_upstream(connector: str, method: str, status: int) -> None:
    UPSTREAM_RESPONSES.labels(connector, method, str(status)).inc()


def install() -> None:
    """Feed the connector-level metrics of this process (upstream HTTP)."""
    telemetry.set_upstream_observer(_count_upstream)


# --- refreshers ---------------------------------------------------------------------

_refreshers: list[Callable[[], Awaitable[None]]] = []


def add_refresher(refresher: Callable[[], Awaitable[None]]) -> None:
    """Have ``refresher`` awaited before every scrape (to update store-backed gauges)."""
    _refreshers.append(refresher)


async def refresh() -> None:
    """Run every refresher; one that fails leaves its gauges as they were."""
    for refresher in _refreshers:
        try:
            await refresher()
        except Exception:
            _log.warning("a metrics refresher failed", exc_info=True)
