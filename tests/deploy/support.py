"""Support for the scale-out tests (no tests here).

`Fleet` runs several replicas of each ``almanac serve`` process on one store,
kills and restarts them on their own ports; `served` counts the RPCs each
process logged; `ResumingSubscriber` holds an activity stream open on a
balanced channel and resumes it from its cursor whenever it breaks;
`TcpProxy` plays an L4 load balancer (each new connection to the next
backend), the case the servers' maximum connection age is for.
"""

from __future__ import annotations

import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import grpc
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import activity_service_pb2_grpc as act_grpc

from tests.helpers import REPO_ROOT, ServiceProcess, service_env
from tests.services.activity.support import port_of, seconds

__all__ = ["Fleet", "ResumingSubscriber", "TcpProxy", "launch", "served"]

# Generous: a dozen processes importing at once on two shared cores.
READY_TIMEOUT = 120.0

# A SIGKILLed stream ends with UNAVAILABLE; one cut at the end of the servers'
# connection-age grace may also surface as CANCELLED or INTERNAL (RST_STREAM).
RESUMABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.INTERNAL}


def _spawn(name: str, env: Mapping[str, str], log_dir: Path, port: int) -> ServiceProcess:
    """Start ``python -m services serve <name> --port <port>`` (address still unknown)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = uuid.uuid4().hex[:6]
    out_path, err_path = log_dir / f"{name}-{stamp}.out", log_dir / f"{name}-{stamp}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services", "serve", name, "--port", str(port)],
            stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=dict(env), cwd=REPO_ROOT,
        )  # fmt: skip
    return ServiceProcess(name, proc, "", out_path, err_path)


def launch(specs: list[tuple[str, int]], env: Mapping[str, str], log_dir: Path
           ) -> list[ServiceProcess]:  # fmt: skip
    """Start (name, port) processes at once; each with its address once it printed READY."""
    procs = [_spawn(name, env, log_dir, port) for name, port in specs]
    deadline = time.monotonic() + READY_TIMEOUT
    while any(not p.address for p in procs):
        for p in procs:
            ready = [line for line in p.stdout_path.read_text(errors="replace").splitlines()
                     if line.startswith(f"READY {p.name} ")]  # fmt: skip
            if ready:
                p.address = ready[0].split(" ", 2)[2].strip()
            elif not p.alive() or time.monotonic() > deadline:
                for other in procs:
                    other.kill()
                raise RuntimeError(f"almanac-{p.name} did not print READY:\n{p.logs()}")
        time.sleep(0.05)
    return procs


class Fleet:
    """Replicas of ``almanac serve`` processes on one store, in launch order per name."""

    def __init__(self, store_url: str, log_dir: Path, **settings: str) -> None:
        self.store_url = store_url
        self.log_dir = log_dir
        self.secret = "e2e-" + secrets.token_hex(16)
        settings.setdefault("drain_seconds", "0")
        settings.setdefault("access_log", "false")
        self.env = service_env(store_url, self.secret, **settings)
        self.procs: dict[str, list[ServiceProcess]] = {}

    def start(self, names: Iterable[str], env: dict[str, str] | None = None) -> None:
        """Start one process per entry of ``names`` (repeat a name for replicas), at once."""
        specs = [(name, 0) for name in names]
        try:
            ready = launch(specs, {**self.env, **(env or {})}, self.log_dir)
        except BaseException:
            self.close()
            raise
        for proc in ready:
            self.procs.setdefault(proc.name, []).append(proc)

    def addresses(self, name: str) -> str:
        """``host:port,host:port`` of every replica of ``name`` (gateways: their URLs)."""
        return ",".join(p.address for p in self.procs[name])

    def kill(self, name: str, index: int = 0) -> None:
        self.procs[name][index].kill()

    def restart(self, *replicas: tuple[str, int]) -> None:
        """Start killed replicas (name, index) again at once, each on its own port,
        so clients keep their address lists."""
        specs = [(name, port_of(self.procs[name][i].address)) for name, i in replicas]
        for (name, index), proc in zip(
            replicas, launch(specs, self.env, self.log_dir), strict=True
        ):
            self.procs[name][index] = proc

    def all(self) -> list[ServiceProcess]:
        return [p for procs in self.procs.values() for p in procs]

    def logs(self) -> str:
        return "\n".join(p.logs() for p in self.all())

    def close(self) -> None:
        for proc in self.all():
            if proc.alive():
                proc.proc.terminate()
        for proc in self.all():
            proc.terminate()


def served(proc: ServiceProcess, method: str) -> int:
    """How many calls of ``method`` (``CalendarService/ListTimeZones``) ``proc`` logged."""
    text = proc.stderr_path.read_text(errors="replace")
    return len(re.findall(rf"/almanac\.v1\.{re.escape(method)} OK ", text))


class ResumingSubscriber:
    """One StreamActivity subscription that resumes from its cursor after any break.

    ``activities`` is everything received, in order, over all the streams it
    took; ``breaks`` counts how often it had to resume.
    """

    def __init__(self, channel: grpc.Channel, token: str, parent: str, cursor: str) -> None:
        self.stub = act_grpc.ActivityServiceStub(channel)
        self.metadata = (("authorization", f"Bearer {token}"),)
        self.parent = parent
        self.cursor = cursor
        self.activities: list[act_pb.Activity] = []
        self.breaks: list[tuple[float, str]] = []  # (time.monotonic(), status code)
        self.failure: str = ""
        self._stop = threading.Event()
        self._call: Any = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _open(self) -> Any:
        request = act_pb.StreamActivityRequest(
            parent=self.parent, cursor=self.cursor, heartbeat_interval=seconds(1)
        )
        return self.stub.StreamActivity(request, metadata=self.metadata, timeout=120)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                self._call = self._open()
            try:
                for item in self._call:
                    if item.HasField("activity"):
                        self.activities.append(item.activity)
                        self.cursor = item.activity.cursor
                    elif item.heartbeat.cursor:
                        self.cursor = item.heartbeat.cursor
            except grpc.RpcError as exc:
                err: Any = exc
                if self._stop.is_set():
                    return
                if err.code() not in RESUMABLE:
                    self.failure = f"{err.code().name}: {err.details()}"
                    return
                self.breaks.append((time.monotonic(), err.code().name))
                time.sleep(0.05)

    def caught_up(self, cursor: str) -> bool:
        return self.cursor >= cursor

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._call is not None:
                self._call.cancel()
        self._thread.join(10)
        assert not self._thread.is_alive(), "the subscriber did not stop"


class TcpProxy:
    """Each new TCP connection goes to the next of ``backends`` (an L4 balancer)."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = list(backends)
        self.connections: list[str] = []  # the backend of each accepted connection
        self._server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._server.getsockname()[1]}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            backend = self.backends[len(self.connections) % len(self.backends)]
            self.connections.append(backend)
            host, port = backend.rsplit(":", 1)
            try:
                upstream = socket.create_connection((host, int(port)), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._server.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        source.close()  # each socket is the source of exactly one pipe
