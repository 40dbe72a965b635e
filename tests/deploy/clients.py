"""The clients of the replica test (no tests here): mixed reads and creates.

A `GrpcClient` dials every service through balanced channels
(`services.runtime.channels`), so a killed replica is the channel's concern.
An `HttpClient` knows both gateways and, like a load balancer in front of
them, sends an idempotent request again to the other one when its
connection fails. Every create carries a ``request_id`` (a resent HTTP
request keeps its own), so either retry returns the first result. Each client
records what was acknowledged and every call that failed for good.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import account_service_pb2_grpc as acc_grpc
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import activity_service_pb2_grpc as act_grpc
from almanac.v1 import availability_service_pb2 as av_pb
from almanac.v1 import availability_service_pb2_grpc as av_grpc
from almanac.v1 import common_pb2
from almanac.v1 import contact_service_pb2 as ct_pb
from almanac.v1 import contact_service_pb2_grpc as ct_grpc
from almanac.v1 import event_service_pb2 as ev_pb
from almanac.v1 import event_service_pb2_grpc as ev_grpc
from almanac.v1 import resource_service_pb2 as rs_pb
from almanac.v1 import resource_service_pb2_grpc as rs_grpc
from google.protobuf import json_format, timestamp_pb2

from services.runtime.channels import sync_channel
from tests.deploy.support import Fleet

__all__ = ["BASE", "GrpcClient", "HttpClient", "HttpSubscriber", "Workload", "new_event"]

# Generous but finite: on a shared two-core machine, writes were seen to queue
# for 20 s while a dozen processes restarted (all appends take one lock).
CALL_TIMEOUT = 60.0
BASE = 1_793_000_000  # 2026-10-26: every event of the test starts after it
SPAN_HOURS = 24 * 30


def _when(seconds: int) -> common_pb2.EventTime:
    return common_pb2.EventTime(date_time=timestamp_pb2.Timestamp(seconds=seconds), time_zone="UTC")


def new_event(n: int) -> ev_pb.Event:
    start = BASE + (n % SPAN_HOURS) * 3600
    return ev_pb.Event(display_name=f"e{n}", start=_when(start), end=_when(start + 1800))


@dataclass
class Workload:
    """What every client works on, and what they all acknowledged."""

    account: str  # accounts/{id}, local
    token: str
    acked_events: dict[str, str] = field(default_factory=dict)  # request_id -> event name
    acked_contacts: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    slow: list[tuple[float, float, str]] = field(default_factory=list)  # (start, seconds, what)
    calls: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def calendar(self) -> str:
        return f"{self.account}/calendars/primary"


class _Client:
    """A thread running ``op(n)`` for n = 0, 1, ... until the workload stops."""

    def __init__(self, label: str, work: Workload) -> None:
        self.label = label
        self.work = work
        self.mine: list[str] = []  # the events this client created
        self._thread = threading.Thread(target=self._run, name=label, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join(60)
        assert not self._thread.is_alive(), f"{self.label} did not stop"

    def _run(self) -> None:
        n = 0
        while not self.work.stop.is_set():
            began = time.monotonic()
            try:
                self.op(n)
                self.work.calls += 1
            except Exception as exc:  # every failure is the test's business
                self.work.failures.append(f"{self.label} op {n % 8}: {_describe(exc)}")
            took = time.monotonic() - began
            if took > 2:
                self.work.slow.append((began, took, f"{self.label} op {n % 8}"))
            n += 1
        self.close()

    def op(self, n: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _describe(exc: Exception) -> str:
    if isinstance(exc, grpc.RpcError):
        err: Any = exc
        return f"{err.code().name}: {err.details()}"
    return repr(exc)


class GrpcClient(_Client):
    def __init__(self, label: str, work: Workload, fleet: Fleet) -> None:
        super().__init__(label, work)
        names = ("account", "event", "contact", "resource", "availability", "activity")
        self.channels = {name: sync_channel(fleet.addresses(name)) for name in names}
        self.md = (("authorization", f"Bearer {work.token}"),)
        self.events = ev_grpc.EventServiceStub(self.channels["event"])
        self.contacts = ct_grpc.ContactServiceStub(self.channels["contact"])
        self.ops: list[Callable[[int], Any]] = [
            self._create_event,
            self._get_event,
            lambda n: self.events.ListEvents(
                ev_pb.ListEventsRequest(parent=work.calendar, page_size=20), **self._kw()
            ),
            self._create_contact,
            lambda n: acc_grpc.AccountServiceStub(self.channels["account"]).GetAccount(
                acc_pb.GetAccountRequest(name=work.account), **self._kw()
            ),
            lambda n: rs_grpc.ResourceServiceStub(self.channels["resource"]).ListResources(
                rs_pb.ListResourcesRequest(parent=work.account), **self._kw()
            ),
            lambda n: av_grpc.AvailabilityServiceStub(self.channels["availability"]).QueryFreeBusy(
                av_pb.QueryFreeBusyRequest(
                    calendars=[work.calendar],
                    time_range=common_pb2.TimeRange(
                        start_time=timestamp_pb2.Timestamp(seconds=BASE),
                        end_time=timestamp_pb2.Timestamp(seconds=BASE + 7 * 86400),
                    ),
                ),
                **self._kw(),
            ),
            lambda n: act_grpc.ActivityServiceStub(self.channels["activity"]).ListActivities(
                act_pb.ListActivitiesRequest(parent=work.account, page_size=5), **self._kw()
            ),
        ]

    def _kw(self) -> dict[str, Any]:
        return {"metadata": self.md, "timeout": CALL_TIMEOUT}

    def op(self, n: int) -> None:
        self.ops[n % len(self.ops)](n)

    def _create_event(self, n: int) -> None:
        request_id = str(uuid.uuid4())
        created = self.events.CreateEvent(
            ev_pb.CreateEventRequest(
                parent=self.work.calendar, event=new_event(n), request_id=request_id
            ),
            **self._kw(),
        )
        self.work.acked_events[request_id] = created.name
        self.mine.append(created.name)

    def _get_event(self, n: int) -> None:
        if self.mine:
            got = self.events.GetEvent(ev_pb.GetEventRequest(name=self.mine[-1]), **self._kw())
            assert got.name == self.mine[-1], got.name

    def _create_contact(self, n: int) -> None:
        request_id = str(uuid.uuid4())
        created = self.contacts.CreateContact(
            ct_pb.CreateContactRequest(
                parent=self.work.account,
                contact=ct_pb.Contact(display_name=f"{self.label} {n}"),
                request_id=request_id,
            ),
            **self._kw(),
        )
        self.work.acked_contacts[request_id] = created.name

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()


class HttpClient(_Client):
    """REST through the two gateways; a failed connection is sent to the other one."""

    def __init__(self, label: str, work: Workload, gateways: list[str]) -> None:
        super().__init__(label, work)
        self.gateways = gateways
        self.http = httpx.Client(timeout=20, headers={"authorization": f"Bearer {work.token}"})
        self.resent = 0

    def _send(self, n: int, method: str, path: str, **kwargs: Any) -> Any:
        deadline = time.monotonic() + CALL_TIMEOUT
        attempt = 0
        while True:
            base = self.gateways[(n + attempt) % len(self.gateways)]
            try:
                reply = self.http.request(method, base + path, **kwargs)
            except httpx.TransportError:
                attempt += 1
                self.resent += 1
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
                continue
            if reply.status_code != 200:
                raise AssertionError(f"{method} {path}: {reply.status_code} {reply.text[:300]}")
            return reply.json()

    def op(self, n: int) -> None:
        work = self.work
        kind = n % 4
        if kind == 0:
            request_id = str(uuid.uuid4())
            body = json_format.MessageToDict(new_event(n))
            created = self._send(n, "POST", f"/v1/{work.calendar}/events",
                                 params={"requestId": request_id}, json=body)  # fmt: skip
            work.acked_events[request_id] = created["name"]
            self.mine.append(created["name"])
        elif kind == 1 and self.mine:
            got = self._send(n, "GET", f"/v1/{self.mine[-1]}")
            assert got["name"] == self.mine[-1], got
        elif kind == 2:
            self._send(n, "GET", f"/v1/{work.calendar}/events", params={"pageSize": 20})
        else:
            self._send(n, "GET", f"/v1/{work.account}/contacts", params={"pageSize": 20})

    def close(self) -> None:
        self.http.close()


class HttpSubscriber:
    """StreamActivity as NDJSON through the gateways, resumed from its cursor on the
    other gateway whenever the stream breaks (an error line, or the connection)."""

    def __init__(self, work: Workload, gateways: list[str], cursor: str, first: int) -> None:
        self.work = work
        self.gateways = gateways
        self.first = first  # the gateway it starts on
        self.cursor = cursor
        self.cursors: list[str] = []  # of the activities received, in order
        self.breaks = 0
        self._stop = threading.Event()
        self._http = httpx.Client(
            timeout=httpx.Timeout(20, read=10),
            headers={"authorization": f"Bearer {work.token}"},
        )
        self._thread = threading.Thread(target=self._run, name="http-sub", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        attempt = self.first
        while not self._stop.is_set():
            base = self.gateways[attempt % len(self.gateways)]
            params = {"cursor": self.cursor, "heartbeatInterval": "1s"}
            try:
                with self._http.stream(
                    "GET", f"{base}/v1/{self.work.account}/activities:stream", params=params
                ) as reply:
                    if reply.status_code != 200:
                        raise _Broken(reply.status_code)
                    for line in reply.iter_lines():
                        if self._stop.is_set():
                            return
                        self._take(line)
            except (httpx.TransportError, _Broken):
                pass
            self.breaks += 1
            attempt += 1
            time.sleep(0.05)

    def _take(self, line: str) -> None:
        if not line.strip():
            return
        message = json.loads(line)
        if "error" in message:
            raise _Broken(message["error"])
        result = message["result"]
        if "activity" in result:
            self.cursors.append(result["activity"]["cursor"])
            self.cursor = result["activity"]["cursor"]
        elif result.get("heartbeat", {}).get("cursor"):
            self.cursor = result["heartbeat"]["cursor"]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)
        self._http.close()


class _Broken(Exception):
    """The gateway ended the stream with an error line."""
