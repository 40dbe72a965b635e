"""Every served service on one fresh store, with two seeded accounts to attack.

`FuzzCluster` starts one process per `services.catalog.CATALOG` entry (so a
new service is fuzzed as soon as it is served), creates the accounts A (the
caller's) and B (the other one's) with a calendar, a weekly series, a
schedule and tokens each, and calls any RPC by its descriptor with raw bytes,
so that the fuzzer can also send bytes that are not a request at all.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import descriptor_pool, message_factory, timestamp_pb2
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message

from services.catalog import CATALOG
from tests.helpers import Almanac, ServiceProcess, service_env, start_service, unique_id

__all__ = [
    "ALL_SCOPES",
    "BAD_CODES",
    "FuzzCluster",
    "Outcome",
    "Tenant",
    "request_class",
    "served_methods",
]

BAD_CODES = frozenset(
    {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS}
)
ALL_SCOPES = ["calendars:admin", "contacts:admin", "resources:admin", "activity:read"]
READ_SCOPES = ["calendars:read", "contacts:read", "resources:read", "activity:read"]
STREAM_SECONDS = 0.5  # how long a server stream is read before the fuzzer hangs up


def served_methods() -> list[MethodDescriptor]:
    """Every RPC of every service this build serves, from the descriptors."""
    methods: list[MethodDescriptor] = []
    pool = descriptor_pool.Default()  # the catalog imported every served service's bindings
    for entry in CATALOG.values():
        service: ServiceDescriptor = pool.FindServiceByName(entry.full_name)
        methods.extend(service.methods)
    return methods


@dataclass
class Tenant:
    """One seeded account: its resource names by type and its tokens."""

    account: str
    names: dict[str, str]  # resource type (almanac.dev/Calendar) -> a name of that type
    full_token: str  # every scope on this account only
    read_token: str  # read scopes on this account only


@dataclass(frozen=True)
class Outcome:
    code: grpc.StatusCode
    reply: bytes  # the serialized reply (the messages of a stream concatenated)


@dataclass
class FuzzCluster:
    admin: str
    procs: dict[str, ServiceProcess]
    a: Tenant = field(init=False)
    b: Tenant = field(init=False)
    _channels: dict[str, grpc.Channel] = field(default_factory=dict)

    @classmethod
    def start(cls, root: Path) -> FuzzCluster:
        secret = "fuzz-" + secrets.token_hex(16)
        env = service_env(f"sqlite:///{root / 'almanac.db'}", secret)
        procs: dict[str, ServiceProcess] = {}
        try:
            for name in CATALOG:  # one after the other: the first migrates the store
                procs[name] = start_service(name, env, root / "logs")
        except BaseException:
            for proc in procs.values():
                proc.terminate()
            raise
        cluster = cls(secret, procs)
        cluster.a = cluster.seed()
        cluster.b = cluster.seed()
        return cluster

    def stop(self) -> None:
        for channel in self._channels.values():
            channel.close()
        for proc in self.procs.values():
            proc.terminate()

    def dead(self) -> list[str]:
        return [name for name, proc in self.procs.items() if not proc.alive()]

    def logs(self) -> str:
        return "\n".join(proc.logs() for proc in self.procs.values())

    def address_of(self, method: MethodDescriptor) -> str:
        entry = next(
            e for e in CATALOG.values() if e.full_name == method.containing_service.full_name
        )
        return self.procs[entry.name].address

    def call(self, method: MethodDescriptor, payload: bytes, token: str | None) -> Outcome:
        """Send ``payload`` as the request of ``method``; the status code and raw reply."""
        address = self.address_of(method)
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = grpc.insecure_channel(address)
        path = f"/{method.containing_service.full_name}/{method.name}"
        metadata = [] if token is None else [("authorization", f"Bearer {token}")]
        raw: dict[str, object] = {"request_serializer": None, "response_deserializer": None}
        try:
            if method.server_streaming:
                stream = channel.unary_stream(path, **raw)(  # type: ignore[arg-type]
                    payload, metadata=metadata, timeout=STREAM_SECONDS
                )
                return Outcome(grpc.StatusCode.OK, b"".join(_first(stream, 3)))
            reply = channel.unary_unary(path, **raw)(payload, metadata=metadata, timeout=30)  # type: ignore[arg-type]
            return Outcome(grpc.StatusCode.OK, bytes(reply))
        except grpc.RpcError as exc:
            err: grpc.Call = exc  # type: ignore[assignment]
            code = err.code()
            if method.server_streaming and code is grpc.StatusCode.DEADLINE_EXCEEDED:
                code = grpc.StatusCode.OK  # a stream that stayed open: what it should do
            return Outcome(code, b"")

    # --- seeding ------------------------------------------------------------

    def _almanac(self) -> Almanac:
        return Almanac(
            self.procs["account"].address,
            self.procs["calendar"].address,
            self.admin,
            "",
            self.procs["event"].address,
            self._channels,
        )

    def seed(self) -> Tenant:
        almanac = self._almanac()
        account = almanac.create_local_account(unique_id("fz"), display_name="Fuzz").name
        calendar = almanac.calendars().CreateCalendar(
            cal_pb.CreateCalendarRequest(
                parent=account, calendar=cal_pb.Calendar(display_name="Fuzz", time_zone="UTC")
            )
        )
        schedule = almanac.calendars().CreateSchedule(
            cal_pb.CreateScheduleRequest(
                parent=calendar.name, schedule=cal_pb.Schedule(display_name="S")
            )
        )
        start = timestamp_pb2.Timestamp()
        start.FromDatetime(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
        event = almanac.events().CreateEvent(
            ev_pb.CreateEventRequest(
                parent=calendar.name,
                event=ev_pb.Event(
                    display_name="Weekly",
                    start=common_pb2.EventTime(date_time=start, time_zone="Europe/Berlin"),
                    recurrence=ev_pb.Recurrence(rrules=["FREQ=WEEKLY;COUNT=20"]),
                ),
            )
        )
        full = almanac.create_token(ALL_SCOPES, [account])
        read = almanac.create_token(READ_SCOPES, [account])
        victim = almanac.create_token(READ_SCOPES, [account])  # the one RevokeApiToken gets
        names = {
            "almanac.dev/Account": account,
            "almanac.dev/Calendar": calendar.name,
            "almanac.dev/Schedule": schedule.name,
            "almanac.dev/Event": event.name,
            "almanac.dev/ApiToken": victim.api_token.name,
            "almanac.dev/Contact": f"{account}/contacts/c1",
            "almanac.dev/Resource": f"{account}/resources/r1",
            "instance": f"{event.name}_20260309T090000Z",
        }
        return Tenant(account, names, full.secret, read.secret)


def _first(stream: Iterator[bytes], count: int) -> list[bytes]:
    out: list[bytes] = []
    for message in stream:
        out.append(bytes(message))
        if len(out) >= count:
            break
    cancel = getattr(stream, "cancel", None)
    if cancel is not None:
        cancel()
    return out


def request_class(method: MethodDescriptor) -> type[Message]:
    return message_factory.GetMessageClass(method.input_type)
