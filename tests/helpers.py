"""Helpers for the end-to-end tests: service processes, authed stubs, rich errors.

The services run as real ``python -m services serve <name> --port 0``
processes; the tests talk to them through the generated sync stubs.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
import pytest
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import account_service_pb2_grpc as acc_grpc
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import calendar_service_pb2_grpc as cal_grpc
from almanac.v1 import event_service_pb2_grpc as ev_grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

__all__ = [
    "PG_ADMIN_URL",
    "REPO_ROOT",
    "Almanac",
    "AuthedStub",
    "RpcFailure",
    "ServiceProcess",
    "TestAccount",
    "expect_error",
    "list_all",
    "on_each_store",
    "pg_reachable",
    "race",
    "service_env",
    "start_service",
    "unique_id",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get(
    "ALMANAC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RPC_TIMEOUT = 15.0
READY_TIMEOUT = 60.0

# Runs a test once on the SQLite store and once on PostgreSQL (skipped when no
# PostgreSQL server answers). The `store_kind` fixture (tests/conftest.py)
# picks the running services of that store.
on_each_store = pytest.mark.parametrize(
    "store_kind",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    indirect=True,
)


def unique_id(prefix: str = "t") -> str:
    """An id valid for accounts, calendars and schedules: ``t-<hex>``."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def pg_reachable(url: str = PG_ADMIN_URL) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 1):
            return True
    except OSError:
        return False


# --- processes ------------------------------------------------------------------


@dataclass
class ServiceProcess:
    """One ``almanac serve`` process; stdout and stderr go to files in ``log_dir``."""

    name: str
    proc: subprocess.Popen[bytes]
    address: str
    stdout_path: Path
    stderr_path: Path

    def logs(self) -> str:
        out = self.stdout_path.read_text(errors="replace")
        err = self.stderr_path.read_text(errors="replace")
        return f"--- stdout of {self.name}\n{out}\n--- stderr of {self.name}\n{err[-20000:]}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait(10)

    def kill(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(10)


def service_env(store_url: str, bootstrap_token: str, **settings: str) -> dict[str, str]:
    """The environment of a service process: ours without ALMANAC_*, plus the given settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
    env["ALMANAC_STORE_URL"] = store_url
    env["ALMANAC_BOOTSTRAP_TOKEN"] = bootstrap_token
    # Connector secrets are encrypted at rest: every process of one store shares a key.
    env["ALMANAC_SECRET_KEY"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
    env["ALMANAC_OTEL_EXPORTER"] = "none"
    env["PYTHONUNBUFFERED"] = "1"
    for key, value in settings.items():
        env[f"ALMANAC_{key.upper()}"] = value
    return env


def start_service(name: str, env: Mapping[str, str], log_dir: Path) -> ServiceProcess:
    """Start ``python -m services serve <name> --port 0`` and wait for its READY line."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = uuid.uuid4().hex[:6]
    stdout_path = log_dir / f"{name}-{stamp}.out"
    stderr_path = log_dir / f"{name}-{stamp}.err"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services", "serve", name, "--port", "0"],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            cwd=REPO_ROOT,
        )
    deadline = time.monotonic() + READY_TIMEOUT
    prefix = f"READY {name} "
    while True:
        for line in stdout_path.read_text(errors="replace").splitlines():
            if line.startswith(prefix):
                return ServiceProcess(
                    name, proc, line[len(prefix) :].strip(), stdout_path, stderr_path
                )
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
            raise RuntimeError(
                f"almanac-{name} did not print READY (exit code {proc.returncode}):\n"
                + ServiceProcess(name, proc, "", stdout_path, stderr_path).logs()
            )
        time.sleep(0.05)


# --- stubs ------------------------------------------------------------------------


class AuthedStub:
    """A generated sync stub whose calls carry ``authorization: Bearer <token>``.

    ``token=None`` sends no authorization metadata at all.
    """

    def __init__(self, stub: Any, token: str | None) -> None:
        self._stub = stub
        self._token = token

    def __getattr__(self, method: str) -> Callable[..., Any]:
        rpc = getattr(self._stub, method)
        token = self._token

        def call(request: Any, *, metadata: Any = (), timeout: float = RPC_TIMEOUT) -> Any:
            md = list(metadata)
            if token is not None:
                md.append(("authorization", f"Bearer {token}"))
            return rpc(request, metadata=md, timeout=timeout)

        return call


@dataclass
class Almanac:
    """The running account, calendar and event services of one store."""

    account_address: str
    calendar_address: str
    admin_secret: str
    store_url: str
    event_address: str = ""
    _channels: dict[str, grpc.Channel] = field(default_factory=dict)

    def channel(self, address: str) -> grpc.Channel:
        if address not in self._channels:
            self._channels[address] = grpc.insecure_channel(address)
        return self._channels[address]

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()

    def accounts(self, token: str | None = "") -> Any:
        """AccountService client; ``""`` means the admin token, None no token."""
        return AuthedStub(
            acc_grpc.AccountServiceStub(self.channel(self.account_address)),
            self.admin_secret if token == "" else token,
        )

    def calendars(self, token: str | None = "") -> Any:
        """CalendarService client; ``""`` means the admin token, None no token."""
        return AuthedStub(
            cal_grpc.CalendarServiceStub(self.channel(self.calendar_address)),
            self.admin_secret if token == "" else token,
        )

    def events(self, token: str | None = "") -> Any:
        """EventService client; ``""`` means the admin token, None no token."""
        assert self.event_address, "the event service is not running"
        return AuthedStub(
            ev_grpc.EventServiceStub(self.channel(self.event_address)),
            self.admin_secret if token == "" else token,
        )

    def create_local_account(self, account_id: str | None = None, **fields: Any) -> acc_pb.Account:
        account = acc_pb.Account(
            connector=acc_pb.CONNECTOR_TYPE_LOCAL,
            settings=acc_pb.ConnectorSettings(local=acc_pb.LocalSettings()),
            **fields,
        )
        return self.accounts().CreateAccount(
            acc_pb.CreateAccountRequest(account=account, account_id=account_id or unique_id())
        )

    def create_token(
        self, scopes: list[str], accounts: list[str], **fields: Any
    ) -> acc_pb.CreateApiTokenResponse:
        return self.accounts().CreateApiToken(
            acc_pb.CreateApiTokenRequest(
                api_token=acc_pb.ApiToken(
                    display_name=fields.pop("display_name", "e2e"),
                    scopes=scopes,
                    accounts=accounts,
                    **fields,
                )
            )
        )

    def token(self, scopes: list[str], accounts: list[str]) -> str:
        """The secret of a new token."""
        return str(self.create_token(scopes, accounts).secret)


@dataclass
class TestAccount:
    """A fresh local account of one test, with helpers scoped to it."""

    __test__ = False  # not a test class, despite the name

    almanac: Almanac
    account: acc_pb.Account

    @property
    def name(self) -> str:
        return str(self.account.name)

    @property
    def id(self) -> str:
        return self.name.split("/", 1)[1]

    @property
    def primary(self) -> str:
        return f"{self.name}/calendars/primary"

    def calendar_name(self, calendar_id: str) -> str:
        return f"{self.name}/calendars/{calendar_id}"

    def token(self, *scopes: str) -> str:
        """A token for this account only (default scope ``calendars:admin``)."""
        return self.almanac.token(list(scopes or ["calendars:admin"]), [self.name])

    def calendars(self, *scopes: str) -> Any:
        """CalendarService client with a token for this account only."""
        return self.almanac.calendars(self.token(*scopes))

    def events(self, *scopes: str) -> Any:
        """EventService client with a token for this account only."""
        return self.almanac.events(self.token(*scopes))

    def create_calendar(
        self, display_name: str = "Cal", calendar_id: str = "", **fields: Any
    ) -> cal_pb.Calendar:
        return self.almanac.calendars().CreateCalendar(
            cal_pb.CreateCalendarRequest(
                parent=self.name,
                calendar_id=calendar_id,
                calendar=cal_pb.Calendar(display_name=display_name, **fields),
            )
        )

    def list_calendars(self) -> list[cal_pb.Calendar]:
        return list_all(
            self.almanac.calendars().ListCalendars,
            cal_pb.ListCalendarsRequest(parent=self.name),
            "calendars",
        )


def list_all(rpc: Callable[[Any], Any], request: Any, items: str) -> list[Any]:
    """Every item of a paginated List RPC, following next_page_token."""
    out: list[Any] = []
    for _ in range(10_000):
        reply = rpc(request)
        out.extend(getattr(reply, items))
        if not reply.next_page_token:
            return out
        request.page_token = reply.next_page_token
    raise AssertionError("pagination did not end")


def race(count: int, call: Callable[[], Any]) -> list[str]:
    """Run ``call`` in ``count`` threads released at once; each reply's ``name`` or
    ``"CODE: details"`` of its error."""
    barrier = threading.Barrier(count)

    def attempt(_: int) -> str:
        barrier.wait(10)
        try:
            return str(call().name)
        except grpc.RpcError as exc:
            err: Any = exc
            return f"{err.code().name}: {err.details()}"

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(attempt, range(count)))


# --- errors -------------------------------------------------------------------------


@dataclass
class RpcFailure:
    """A failed call: code, message and the decoded ``google.rpc.Status`` details."""

    code: grpc.StatusCode
    message: str
    status: status_pb2.Status
    error_info: error_details_pb2.ErrorInfo
    bad_request: error_details_pb2.BadRequest | None

    @property
    def fields(self) -> set[str]:
        """The field paths named by the BadRequest violations."""
        if self.bad_request is None:
            return set()
        return {v.field for v in self.bad_request.field_violations}

    @property
    def reason(self) -> str:
        return str(self.error_info.reason)


def _details(status: status_pb2.Status, kind: type[Any]) -> Iterator[Any]:
    for any_msg in status.details:
        if any_msg.Is(kind.DESCRIPTOR):
            msg = kind()
            any_msg.Unpack(msg)
            yield msg


def expect_error(code: grpc.StatusCode, call: Callable[[], Any]) -> RpcFailure:
    """Run ``call``, assert it fails with ``code`` and well-formed rich details."""
    try:
        reply = call()
    except grpc.RpcError as exc:
        err: Any = exc
    else:
        raise AssertionError(f"expected {code.name}, but the call succeeded: {reply!r}")
    got = err.code()
    assert got == code, f"expected {code.name}, got {got.name}: {err.details()}"
    status = rpc_status.from_call(err)
    assert status is not None, f"{code.name} without google.rpc.Status details: {err.details()}"
    infos = list(_details(status, error_details_pb2.ErrorInfo))
    assert len(infos) == 1, f"expected exactly one ErrorInfo, got {infos}"
    assert infos[0].domain == "almanac.dev", infos[0]
    assert infos[0].reason, "ErrorInfo.reason is empty"
    bad = list(_details(status, error_details_pb2.BadRequest))
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        assert len(bad) == 1, f"INVALID_ARGUMENT needs exactly one BadRequest, got {bad}"
        assert bad[0].field_violations, "BadRequest without field violations"
    return RpcFailure(got, err.details(), status, infos[0], bad[0] if bad else None)
