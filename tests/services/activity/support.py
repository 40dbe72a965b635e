"""Support for the ActivityService end-to-end tests (no tests here).

`Cluster` runs real ``python -m services serve <name>`` processes on a store
of its own, so a test may give them special settings, kill them or restart
them without disturbing the session-wide services of ``tests/conftest.py``.
`Subscriber` holds one ``StreamActivity`` open on a thread and records every
message; `list_log` pages ``ListActivities`` to the end; `Writers` drives the
Event and Calendar services from several threads at once.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import grpc
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import activity_service_pb2_grpc as act_grpc
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import duration_pb2, field_mask_pb2, timestamp_pb2

from tests.helpers import (
    PG_ADMIN_URL,
    REPO_ROOT,
    Almanac,
    RpcFailure,
    ServiceProcess,
    TestAccount,
    expect_error,
    service_env,
    unique_id,
)

Code = grpc.StatusCode
Item = act_pb.StreamActivityResponse

READY_TIMEOUT = 30.0
STREAM_DEADLINE = 80.0  # no stream of these tests lives longer

ADDED = act_pb.ACTIVITY_TYPE_ADDED
UPDATED = act_pb.ACTIVITY_TYPE_UPDATED
DELETED = act_pb.ACTIVITY_TYPE_DELETED
EVENT = common_pb2.RESOURCE_TYPE_EVENT
CALENDAR = common_pb2.RESOURCE_TYPE_CALENDAR
ACCOUNT = common_pb2.RESOURCE_TYPE_ACCOUNT


# --- processes ---------------------------------------------------------------------


@dataclass
class _Launch:
    name: str
    proc: subprocess.Popen[bytes]
    out_path: Path
    err_path: Path


def _launch(name: str, env: Mapping[str, str], log_dir: Path, port: int) -> _Launch:
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = uuid.uuid4().hex[:6]
    out_path = log_dir / f"{name}-{stamp}.out"
    err_path = log_dir / f"{name}-{stamp}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services", "serve", name, "--port", str(port)],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            cwd=REPO_ROOT,
        )
    return _Launch(name, proc, out_path, err_path)


def _await_ready(launches: list[_Launch]) -> list[ServiceProcess]:
    """Wait for every launched process's ``READY <name> host:port`` line."""
    ready: dict[int, ServiceProcess] = {}
    deadline = time.monotonic() + READY_TIMEOUT
    while len(ready) < len(launches):
        for i, launch in enumerate(launches):
            if i in ready:
                continue
            prefix = f"READY {launch.name} "
            for line in launch.out_path.read_text(errors="replace").splitlines():
                if line.startswith(prefix):
                    address = line[len(prefix) :].strip()
                    ready[i] = ServiceProcess(
                        launch.name, launch.proc, address, launch.out_path, launch.err_path
                    )
            if i not in ready and (launch.proc.poll() is not None or time.monotonic() > deadline):
                for other in launches:
                    if other.proc.poll() is None:
                        other.proc.kill()
                    other.proc.wait(10)
                failed = ServiceProcess(
                    launch.name, launch.proc, "", launch.out_path, launch.err_path
                )
                raise RuntimeError(f"almanac-{launch.name} did not print READY:\n{failed.logs()}")
        time.sleep(0.02)
    return [ready[i] for i in range(len(launches))]


def spawn(name: str, env: Mapping[str, str], log_dir: Path, port: int = 0) -> ServiceProcess:
    """Start ``python -m services serve <name> --port <port>``; wait for READY."""
    return _await_ready([_launch(name, env, log_dir, port)])[0]


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


class Cluster:
    """Account, calendar, event and activity processes on one store of their own.

    ``settings`` become ``ALMANAC_<NAME>`` variables of every process;
    `start_activity` adds more activity processes (with settings of their own)
    on the same store.
    """

    def __init__(
        self,
        store_url: str,
        log_dir: Path,
        names: Iterable[str] = ("account", "calendar", "event", "activity"),
        **settings: str,
    ) -> None:
        self.store_url = store_url
        self.log_dir = log_dir
        self.secret = "e2e-" + secrets.token_hex(16)
        settings.setdefault("drain_seconds", "0")
        settings.setdefault("access_log", "false")
        self.settings = settings
        self.env = service_env(store_url, self.secret, **settings)
        self.procs: dict[str, ServiceProcess] = {}
        self.extra: list[ServiceProcess] = []
        self._channels: dict[str, grpc.Channel] = {}
        try:
            # The first one migrates and bootstraps the store; then the rest at once.
            first, *rest = names
            self.procs[first] = spawn(first, self.env, log_dir)
            launched = [_launch(name, self.env, log_dir, 0) for name in rest]
            for proc in _await_ready(launched):
                self.procs[proc.name] = proc
        except BaseException:
            self.close()
            raise
        self.almanac = Almanac(
            self.address("account"),
            self.address("calendar") if "calendar" in self.procs else "",
            self.secret,
            store_url,
            self.address("event") if "event" in self.procs else "",
        )

    def address(self, name: str) -> str:
        return self.procs[name].address

    def channel(self, address: str, options: tuple[tuple[str, int], ...] = ()) -> grpc.Channel:
        key = f"{address} {options}"
        if key not in self._channels:
            self._channels[key] = grpc.insecure_channel(address, options=list(options))
        return self._channels[key]

    def activity(
        self,
        token: str | None = "",
        address: str = "",
        options: tuple[tuple[str, int], ...] = (),
    ) -> ActivityClient:
        """ActivityService client; ``""`` means the admin token."""
        address = address or self.address("activity")
        return ActivityClient(
            act_grpc.ActivityServiceStub(self.channel(address, options)),
            self.secret if token == "" else token,
            address,
        )

    def start_activity(self, **settings: str) -> ServiceProcess:
        """One more activity process on the same store, with extra settings."""
        proc = spawn("activity", {**self.env, **_env(settings)}, self.log_dir)
        self.extra.append(proc)
        return proc

    def kill(self, name: str) -> None:
        self.procs[name].kill()

    def restart(self, name: str, same_port: bool = True) -> ServiceProcess:
        """Start ``name`` again (after a kill), on its old port by default."""
        old = self.procs[name]
        if old.alive():
            old.terminate()
        port = port_of(old.address) if same_port else 0
        # Fresh channels: an old one may sit in reconnect backoff for a while.
        for key in [k for k in self._channels if k.startswith(old.address + " ")]:
            self._channels.pop(key).close()
        stale = self.almanac._channels.pop(old.address, None)
        if stale is not None:
            stale.close()
        self.procs[name] = spawn(name, self.env, self.log_dir, port)
        if name == "event":
            self.almanac.event_address = self.address("event")
        return self.procs[name]

    def new_account(self) -> TestAccount:
        return TestAccount(self.almanac, self.almanac.create_local_account(display_name="E2E"))

    def logs(self) -> str:
        return "\n".join(p.logs() for p in [*self.procs.values(), *self.extra])

    def close(self) -> None:
        self.almanac_close()
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
        procs = [*self.procs.values(), *self.extra]
        for proc in procs:
            if proc.alive():
                proc.proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.terminate()

    def almanac_close(self) -> None:
        almanac = getattr(self, "almanac", None)
        if almanac is not None:
            almanac.close()


def _env(settings: Mapping[str, str]) -> dict[str, str]:
    return {f"ALMANAC_{k.upper()}": v for k, v in settings.items()}


def sqlite_cluster(
    root: Path,
    names: Iterable[str] = ("account", "calendar", "event", "activity"),
    **settings: str,
) -> Cluster:
    return Cluster(f"sqlite:///{root / 'almanac.db'}", root / "logs", names, **settings)


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_pg_database() -> str:
    """A scratch PostgreSQL database of our own (bootstrapped by our cluster)."""
    name = f"almanac_act_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    return urlunsplit(urlsplit(PG_ADMIN_URL)._replace(path=f"/{name}"))


def drop_pg_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- ActivityService calls -------------------------------------------------------------


@dataclass
class ActivityClient:
    """The ActivityService of one process, with one token."""

    stub: act_grpc.ActivityServiceStub
    token: str | None
    address: str

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return () if self.token is None else (("authorization", f"Bearer {self.token}"),)

    def page(self, **fields: Any) -> act_pb.ListActivitiesResponse:
        request = act_pb.ListActivitiesRequest(**fields)
        reply: act_pb.ListActivitiesResponse = self.stub.ListActivities(
            request, metadata=self.metadata, timeout=15
        )
        return reply

    def log(self, **fields: Any) -> tuple[list[act_pb.Activity], str]:
        """Every page of ListActivities: the activities and the last latest_cursor."""
        fields.setdefault("page_size", 200)
        request = act_pb.ListActivitiesRequest(**fields)
        out: list[act_pb.Activity] = []
        for _ in range(10_000):
            reply = self.stub.ListActivities(request, metadata=self.metadata, timeout=15)
            out.extend(reply.activities)
            if not reply.next_page_token:
                return out, str(reply.latest_cursor)
            request.page_token = reply.next_page_token
        raise AssertionError("ListActivities pagination did not end")

    def latest(self) -> str:
        """The cursor of the newest activity in the log (admin view)."""
        request = act_pb.ListActivitiesRequest(parent="accounts/-", page_size=200)
        for _ in range(10_000):
            reply = self.stub.ListActivities(request, metadata=self.metadata, timeout=15)
            if not reply.next_page_token:
                return str(reply.latest_cursor)
            request.page_token = reply.next_page_token
        raise AssertionError("ListActivities pagination did not end")

    def open(self, **fields: Any) -> Any:
        """The raw StreamActivity call (an iterator of responses)."""
        heartbeat = fields.pop("heartbeat", None)
        request = act_pb.StreamActivityRequest(**fields)
        if heartbeat is not None:
            request.heartbeat_interval.CopyFrom(seconds(heartbeat))
        return self.stub.StreamActivity(request, metadata=self.metadata, timeout=STREAM_DEADLINE)

    def subscribe(self, label: str = "", **fields: Any) -> Subscriber:
        return Subscriber(self, label or "subscriber", fields)


def seconds(value: float) -> duration_pb2.Duration:
    out = duration_pb2.Duration()
    out.FromNanoseconds(round(value * 1e9))
    return out


def stream_error(code: grpc.StatusCode, client: ActivityClient, **fields: Any) -> RpcFailure:
    """The error a StreamActivity call ends with before any message."""

    def first() -> Any:
        call = client.open(**fields)
        try:
            return next(call)
        finally:
            call.cancel()

    return expect_error(code, first)


def failure_of(code: grpc.StatusCode, error: BaseException | None) -> RpcFailure:
    """`expect_error`'s checks on an error already caught (e.g. the end of a stream)."""
    assert error is not None, f"expected {code.name}, but the stream did not fail"

    def reraise() -> None:
        raise error

    return expect_error(code, reraise)


# --- a subscriber on a thread ----------------------------------------------------------------


@dataclass
class Received:
    at: float  # time.monotonic() when read
    item: Item


class Subscriber:
    """One open StreamActivity read on a thread; ``pause()`` stops reading."""

    def __init__(self, client: ActivityClient, label: str, fields: dict[str, Any]) -> None:
        self.label = label
        self.fields = dict(fields)
        self.received: list[Received] = []
        self.error: grpc.RpcError | None = None
        self.crash: BaseException | None = None
        self.done = threading.Event()
        self._reading = threading.Event()
        self._reading.set()
        self._cond = threading.Condition()
        self.opened_at = time.monotonic()
        self.call = client.open(**fields)
        self._thread = threading.Thread(target=self._run, name=f"sub-{label}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                self._reading.wait()
                try:
                    item = next(self.call)
                except StopIteration:
                    return
                with self._cond:
                    self.received.append(Received(time.monotonic(), item))
                    self._cond.notify_all()
        except grpc.RpcError as exc:
            self.error = exc
        except BaseException as exc:  # reported by the test, never left on the thread
            self.crash = exc
        finally:
            self.done.set()
            with self._cond:
                self._cond.notify_all()

    # -- reading control

    def pause(self) -> None:
        self._reading.clear()

    def resume(self) -> None:
        self._reading.set()

    # -- views

    @property
    def items(self) -> list[Item]:
        with self._cond:
            return [r.item for r in self.received]

    @property
    def activities(self) -> list[act_pb.Activity]:
        return [i.activity for i in self.items if i.HasField("activity")]

    @property
    def heartbeats(self) -> list[Received]:
        with self._cond:
            return [r for r in self.received if r.item.HasField("heartbeat")]

    @property
    def last_cursor(self) -> str:
        """The newest cursor received, from an activity or a heartbeat ("" if none)."""
        with self._cond:
            for r in reversed(self.received):
                return item_cursor(r.item)
        return ""

    @property
    def last_activity_cursor(self) -> str:
        found = self.activities
        return str(found[-1].cursor) if found else ""

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0 or (self.done.is_set() and not predicate()):
                    break
                self._cond.wait(min(left, 0.2))
        if not predicate():
            raise AssertionError(
                f"{self.label}: {what} not seen within {timeout:g}s "
                f"({len(self.received)} messages, error={self._error_text()})"
            )

    def wait_cursor(self, cursor: str, timeout: float = 20.0) -> None:
        """Wait until a message (activity or heartbeat) carries ``cursor``."""
        self.wait_for(
            lambda: any(item_cursor(r.item) == cursor for r in self.received),
            timeout,
            f"cursor {cursor}",
        )

    def wait_count(self, count: int, timeout: float = 20.0) -> None:
        self.wait_for(lambda: len(self.activities_unlocked()) >= count, timeout, f"{count} items")

    def activities_unlocked(self) -> list[act_pb.Activity]:
        return [r.item.activity for r in self.received if r.item.HasField("activity")]

    def wait_done(self, timeout: float = 20.0) -> None:
        if not self.done.wait(timeout):
            raise AssertionError(f"{self.label}: the stream did not end within {timeout:g}s")
        self._thread.join(5)
        if self.crash is not None:
            raise AssertionError(f"{self.label}: reader crashed: {self.crash!r}")

    def _error_text(self) -> str:
        if self.error is None:
            return repr(self.crash) if self.crash else "none"
        err: Any = self.error
        return f"{err.code().name}: {err.details()}"

    def stop(self) -> None:
        self.call.cancel()
        self._reading.set()
        self._thread.join(10)
        if self.crash is not None:
            raise AssertionError(f"{self.label}: reader crashed: {self.crash!r}")


def item_cursor(item: Item) -> str:
    return str(item.activity.cursor if item.HasField("activity") else item.heartbeat.cursor)


def check_stream_order(sub: Subscriber) -> None:
    """Within one stream: activity cursors never repeat; heartbeats never go back."""
    cursors = [a.cursor for a in sub.activities]
    assert len(cursors) == len(set(cursors)), f"{sub.label}: duplicate activities"
    last = ""
    for item in sub.items:
        cursor = item_cursor(item)
        # Cursors are opaque; this checks only that the stream never goes back,
        # relying on the fixed-width encoding every cursor of the log shares.
        assert len(cursor) == len(last) or not last
        assert cursor >= last, f"{sub.label}: cursor went back from {last} to {cursor}"
        last = cursor


def assert_same_sequence(
    label: str, got: list[act_pb.Activity], expected: list[act_pb.Activity]
) -> None:
    """``got`` is exactly ``expected``: same activities, same order, nothing more."""
    got_cursors = [a.cursor for a in got]
    want_cursors = [a.cursor for a in expected]
    if got_cursors != want_cursors:
        missing = sorted(set(want_cursors) - set(got_cursors))
        extra = sorted(set(got_cursors) - set(want_cursors))
        dupes = sorted({c for c in got_cursors if got_cursors.count(c) > 1})
        raise AssertionError(
            f"{label}: {len(got)} activities received, {len(expected)} in the log; "
            f"missing {missing[:10]}, unexpected {extra[:10]}, duplicated {dupes[:10]}, "
            f"order {'differs' if not (missing or extra or dupes) else 'not compared'}"
        )
    for a, b in zip(got, expected, strict=True):
        assert a == b, f"{label}: activity {a.cursor} differs from the log:\n{a}\nvs\n{b}"


# --- writes -------------------------------------------------------------------------------


def when(epoch_seconds: int) -> common_pb2.EventTime:
    return common_pb2.EventTime(
        date_time=timestamp_pb2.Timestamp(seconds=epoch_seconds), time_zone="UTC"
    )


def new_event(
    almanac: Almanac, calendar: str, title: str = "e", event_id: str = "", **fields: Any
) -> ev_pb.Event:
    start = 1_800_000_000 + secrets.randbelow(10_000) * 3600
    created: ev_pb.Event = almanac.events().CreateEvent(
        ev_pb.CreateEventRequest(
            parent=calendar,
            event_id=event_id,
            event=ev_pb.Event(
                display_name=title, start=when(start), end=when(start + 1800), **fields
            ),
        )
    )
    return created


def update_event(almanac: Almanac, name: str, title: str) -> ev_pb.Event:
    updated: ev_pb.Event = almanac.events().UpdateEvent(
        ev_pb.UpdateEventRequest(
            event=ev_pb.Event(name=name, display_name=title),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        )
    )
    return updated


def delete_event(almanac: Almanac, name: str) -> None:
    almanac.events().DeleteEvent(ev_pb.DeleteEventRequest(name=name))


def new_calendar(account: TestAccount, title: str = "Cal") -> cal_pb.Calendar:
    return account.create_calendar(title, unique_id("c"))


def update_calendar(almanac: Almanac, name: str, title: str) -> cal_pb.Calendar:
    updated: cal_pb.Calendar = almanac.calendars().UpdateCalendar(
        cal_pb.UpdateCalendarRequest(
            calendar=cal_pb.Calendar(name=name, display_name=title),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        )
    )
    return updated


def delete_calendar(almanac: Almanac, name: str) -> None:
    almanac.calendars().DeleteCalendar(cal_pb.DeleteCalendarRequest(name=name))


@dataclass
class Op:
    """One acknowledged write: what the log must say about it."""

    type: int
    resource_type: int
    resource: str


@dataclass
class WriterLog:
    ops: list[Op] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def timed(self, call: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = call()
        self.latencies.append(time.perf_counter() - start)
        return result


def run_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` for i in range(count) on threads released together."""
    barrier = threading.Barrier(count)

    def go(i: int) -> Any:
        barrier.wait(10)
        return work(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(go, range(count)))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
