"""A CalDAV account on a real Radicale holding 10,000 events (10% weekly series).

``--quick`` uses 2,000 events (the bulk load alone takes minutes).

1. Mirror: the sync worker's first sync of the account (discovery,
   ``sync-collection``, ``calendar-multiget`` in batches, rows, instances and
   an ADDED activity per event), timed from the worker's own sync state,
   next to Radicale's own full ``calendar-query`` of the same collection (all
   calendar data, no time range) in the same run.
2. A month of ``ListEvents`` (every page, instances expanded) on the CalDAV
   account, served from the mirror, against Radicale's ``calendar-query``
   with ``expand`` for that month. Goal: at least 100x.
3. A change made on the server by another client (a PUT) until a
   ``StreamActivity`` subscriber has it. The default ``sync_interval_seconds``
   is 60 s; this run shortens it to `INTERVAL_S` (reported) so that tens of
   samples fit in a minute: about half an interval is waiting by design.

Radicale is the bench's (`bench.radicale`: auth none, fsync on); the
services and the sync worker are separate processes on one fresh SQLite store,
using the built-in CalDAV backend (no ``connector_backends``).
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import grpc
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import account_service_pb2_grpc as acc_grpc
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import activity_service_pb2_grpc as act_grpc
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from almanac.v1 import event_service_pb2_grpc as ev_grpc
from google.protobuf import timestamp_pb2

from bench import eventdata
from bench.proc import BenchError, ProcessGroup
from bench.radicale import USER, Radicale, start_radicale
from bench.report import progress, table
from bench.scenarios import Goal, RunConfig, scenario
from bench.servers import Store, start_service

__all__ = ["run"]

COLLECTION = f"{USER}/cal/"
INTERVAL_S = 2.0
ACCOUNT = "dav"
_FULL_QUERY = b"""<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter>
  </C:filter>
</C:calendar-query>"""


def _md(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def _full_query(server: Radicale) -> tuple[float, int]:
    started = time.perf_counter()
    reply = server.client.request(
        "REPORT",
        server.url(COLLECTION),
        content=_FULL_QUERY,
        headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
    )
    seconds = time.perf_counter() - started
    if reply.status_code != 207:
        raise BenchError(f"Radicale answered the full calendar-query with {reply.status_code}")
    return seconds, reply.text.count("<response>") + reply.text.count(":response>")


def _wait_first_sync(accounts: acc_grpc.AccountServiceStub, token: str) -> float:
    """Seconds the worker's first sync took (its own attempt -> success times)."""
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        state = accounts.GetAccount(
            acc_pb.GetAccountRequest(name=f"accounts/{ACCOUNT}"), metadata=_md(token)
        ).sync_state
        if state.HasField("last_success_time"):
            attempt = state.last_attempt_time.ToNanoseconds()
            return (state.last_success_time.ToNanoseconds() - attempt) / 1e9
        if state.consecutive_failures:
            raise BenchError(f"the first sync failed: {state.last_error}")
        time.sleep(0.1)
    raise BenchError("the first sync did not end within 30 minutes")


def _list_month(events: ev_grpc.EventServiceStub, token: str) -> tuple[float, int]:
    started = time.perf_counter()
    count, page = 0, ""
    while True:
        reply = events.ListEvents(
            ev_pb.ListEventsRequest(
                parent=f"accounts/{ACCOUNT}/calendars/primary",
                page_size=1000,
                page_token=page,
                start_time=_ts(eventdata.MONTH_START),
                end_time=_ts(eventdata.MONTH_END),
                expansion=ev_pb.EXPANSION_INSTANCES,
            ),
            metadata=_md(token),
        )
        count += len(reply.events)
        page = reply.next_page_token
        if not page:
            return time.perf_counter() - started, count


def _ts(value: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def _latency(server: Radicale, activity: str, token: str, n: int) -> list[float]:
    stub = act_grpc.ActivityServiceStub(grpc.insecure_channel(activity))
    call = stub.StreamActivity(
        act_pb.StreamActivityRequest(
            parent=f"accounts/{ACCOUNT}", resource_types=[common_pb2.RESOURCE_TYPE_EVENT]
        ),
        metadata=_md(token),
    )
    seen: dict[str, float] = {}

    def read() -> None:
        try:
            for item in call:
                if item.HasField("activity"):
                    seen[item.activity.event_snapshot.display_name] = time.monotonic()
        except grpc.RpcError:
            pass

    threading.Thread(target=read, daemon=True).start()
    time.sleep(1.0)
    specs = [s for s in eventdata.generate(200) if not s.rrule][:5]
    sent: dict[str, float] = {}
    for i in range(n):
        spec = specs[i % len(specs)]
        title = f"changed {i}"
        changed = eventdata.EventSpec(
            spec.uid, title, spec.location, spec.description, spec.start, spec.end, spec.zone
        )
        reply = server.client.put(
            server.url(f"{COLLECTION}{spec.uid}.ics"),
            content=eventdata.ics_document([changed]),
            headers={"Content-Type": "text/calendar; charset=utf-8"},
        )
        if reply.status_code not in (201, 204):
            raise BenchError(f"Radicale answered the change with {reply.status_code}")
        sent[title] = time.monotonic()
        time.sleep(INTERVAL_S * 1.3)  # not in step with the worker's interval
    deadline = time.monotonic() + 4 * INTERVAL_S + 10
    while len(seen) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.05)
    call.cancel()
    return [(seen[t] - s) * 1000 for t, s in sent.items() if t in seen]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


@scenario("caldav", "CalDAV account on Radicale: 10k-event mirror, month ListEvents, latency")
def run(config: RunConfig) -> list[Goal]:
    reps = 1 if config.quick else 3
    changes = 8 if config.quick else 30
    n_events = 2_000 if config.quick else eventdata.N_EVENTS
    specs = eventdata.generate(n_events)
    with tempfile.TemporaryDirectory(prefix="almanac-bench-caldav-") as tmp:
        workdir = Path(tmp)
        store = Store.fresh(workdir)
        env = {
            "ALMANAC_ACCESS_LOG": "false",
            "ALMANAC_SYNC_INTERVAL_SECONDS": str(INTERVAL_S),
            "ALMANAC_SYNC_POLL_SECONDS": "0.05",
        }
        with ProcessGroup(workdir, env) as group:
            progress(f"starting Radicale, loading {n_events:,} events (one PUT of the collection)")
            server = start_radicale(group, workdir)
            server.mkcalendar(COLLECTION, "bench")
            server.put_collection(COLLECTION, eventdata.ics_document(specs))
            query_s, _ = _full_query(server)  # warm-up: Radicale builds its item cache
            query_s = min(_full_query(server)[0] for _ in range(reps))
            progress(f"Radicale full calendar-query: {query_s:.2f} s")
            account = start_service(group, "account", store)
            accounts = acc_grpc.AccountServiceStub(grpc.insecure_channel(account.address))
            settings = acc_pb.CalDavSettings(
                url=server.base_url + "/", username=USER, password="bench"
            )
            accounts.CreateAccount(
                acc_pb.CreateAccountRequest(
                    account_id=ACCOUNT,
                    account=acc_pb.Account(
                        connector=acc_pb.CONNECTOR_TYPE_CALDAV,
                        settings=acc_pb.ConnectorSettings(caldav=settings),
                    ),
                ),
                metadata=_md(store.token),
            )
            progress("the sync worker's first sync of the account (the mirror)")
            group.start_server(
                "sync", ["-m", "services", "serve", "sync", "--port", "0"], store.env
            )
            mirror_s = _wait_first_sync(accounts, store.token)
            progress(f"mirrored in {mirror_s:.2f} s")
            event = start_service(group, "event", store)
            events = ev_grpc.EventServiceStub(grpc.insecure_channel(event.address))
            _list_month(events, store.token)  # warm-up
            listed = [_list_month(events, store.token) for _ in range(max(3, reps * 5))]
            list_s, instances = min(s for s, _ in listed), listed[0][1]
            progress(f"month ListEvents: {list_s * 1000:.1f} ms, {instances:,} instances")
            expand = []
            for i in range(reps):
                progress(f"Radicale month REPORT with expand {i + 1}/{reps} (slow)")
                r = server.calendar_query(
                    COLLECTION, eventdata.MONTH_START, eventdata.MONTH_END, expand=True
                )
                expand.append(r.seconds)
            expand_s = min(expand)
            activity = start_service(group, "activity", store)
            progress(f"server change -> subscriber, {changes} changes, interval {INTERVAL_S} s")
            lat = _latency(server, activity.address, store.token, changes)
            server.close()
    p50, p99 = (statistics.median(lat) if lat else float("nan")), _pct(lat, 0.99)
    ratio = expand_s / list_s
    print(
        table(
            ["measure", "almanac (caldav account)", "radicale", "ratio"],
            [
                [
                    f"mirror {n_events:,} events (first sync) vs full calendar-query",
                    f"{mirror_s:.2f} s",
                    f"{query_s:.2f} s",
                    f"{mirror_s / query_s:.1f}x the query",
                ],
                [
                    f"month of instances ({instances:,})",
                    f"{list_s * 1000:.1f} ms",
                    f"{expand_s * 1000:.0f} ms (expand)",
                    f"{ratio:,.0f}x faster",
                ],
                [
                    f"server change -> subscriber (n={len(lat)}, interval {INTERVAL_S:g} s)",
                    f"p50 {p50:.0f} ms, p99 {p99:.0f} ms",
                    "",
                    "",
                ],
            ],
        )
    )
    return [
        Goal(
            "month ListEvents on a CalDAV account >= 100x Radicale's expand REPORT",
            ratio >= 100,
            f"{ratio:,.0f}x ({list_s * 1000:.1f} ms vs {expand_s:.2f} s)",
        ),
        Goal(
            f"every server change reaches the subscriber ({len(lat)}/{changes})",
            len(lat) == changes,
            f"p50 {p50:.0f} ms, p99 {p99:.0f} ms",
        ),
        Goal(
            f"server change -> subscriber p99 within {INTERVAL_S:g} s interval + 1 s",
            p99 <= INTERVAL_S * 1000 + 1000,
            f"p99 {p99:.0f} ms",
        ),
        Goal(
            f"first sync of {n_events:,} CalDAV events (next to a full calendar-query)",
            True,
            f"{mirror_s:.2f} s vs {query_s:.2f} s",
        ),
    ]
