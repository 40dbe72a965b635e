"""Where the connectors report what they do, for whoever measures it.

The connectors know nothing of Prometheus (or of the services above them):
they call the observer installed here, which is nothing until a process
installs one (`services.runtime.metrics.install`). One module-level slot
rather than a parameter threaded through every backend's constructor,
because a process has exactly one set of metrics.

Upstream HTTP: every connector builds its ``httpx.AsyncClient`` with
``event_hooks=upstream_hooks("caldav")``, so each response is counted by
connector type, method and status code. A request that gets no response
(timeout, refused connection) never reaches a response hook; the
connectors map those to UNAVAILABLE, which the RPC metrics count.

Sync runs: the sync worker fills a `SyncRun` per account it syncs and
hands it to `sync_finished`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = [
    "SyncObserver",
    "SyncRun",
    "UpstreamObserver",
    "connector_kind",
    "set_sync_observer",
    "set_upstream_observer",
    "sync_finished",
    "upstream_hooks",
]

# (connector type, HTTP method, status code)
UpstreamObserver = Callable[[str, str, int], None]

_upstream: UpstreamObserver | None = None


def set_upstream_observer(observer: UpstreamObserver | None) -> None:
    """Install (or, with None, remove) the process's upstream HTTP observer."""
    global _upstream
    _upstream = observer


def upstream_hooks(connector: str) -> dict[str, list[Callable[[Any], Awaitable[None]]]]:
    """``event_hooks`` for an ``httpx.AsyncClient`` of the ``connector`` type."""

    async def on_response(response: httpx.Response) -> None:
        observer = _upstream
        if observer is not None:
            observer(connector, response.request.method, response.status_code)

    return {"response": [on_response]}


# --- sync runs ----------------------------------------------------------------


@dataclass(slots=True)
class SyncRun:
    """How one sync of one account went, as the worker learns it."""

    connector: str = "unknown"  # caldav, google, microsoft_graph; unknown before the backend
    outcome: str = "success"  # success, failure, crashed, store_error, lease_lost, raced
    reason: str = ""  # the error's reason when the outcome is failure or crashed
    seconds: float = 0.0


SyncObserver = Callable[[SyncRun], None]

_sync: SyncObserver | None = None


def set_sync_observer(observer: SyncObserver | None) -> None:
    """Install (or, with None, remove) the process's sync run observer."""
    global _sync
    _sync = observer


def sync_finished(run: SyncRun) -> None:
    observer = _sync
    if observer is not None:
        observer(run)


def connector_kind(connector_type: str) -> str:
    """``CONNECTOR_TYPE_MICROSOFT_GRAPH`` -> ``microsoft_graph``: the label value."""
    return connector_type.removeprefix("CONNECTOR_TYPE_").lower()
