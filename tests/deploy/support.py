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
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import grpc
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import activity_service_pb2_grpc as act_grpc

from tests.helpers import ServiceProcess, service_env
from tests.services.activity.support import _await_ready, _launch, port_of, seconds

__all__ = ["Fleet", "ResumingSubscriber", "TcpProxy", "served"]

# A SIGKILLed stream ends with UNAVAILABLE; one cut at the end of the servers'
# connection-age grace may also surface as CANCELLED or INTERNAL (RST_STREAM).
RESUMABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.INTERNAL}


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
        names = list(names)
        launches = [_launch(n, {**self.env, **(env or {})}, self.log_dir, 0) for n in names]
        try:
            ready = _await_ready(launches)
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

    def restart(self, name: str, index: int = 0) -> ServiceProcess:
        """Start a killed replica again on its own port (clients keep their address lists)."""
        old = self.procs[name][index]
        port = port_of(old.address)
        (proc,) = _await_ready([_launch(name, self.env, self.log_dir, port)])
        self.procs[name][index] = proc
        return proc

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
        self.breaks: list[str] = []
        self.failure: str = ""
        self._stop = threading.Event()
        self._call: Any = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _open(self) -> Any:
        request = act_pb.StreamActivityRequest(
            parent=self.parent, cursor=self.cursor, heartbeat_interval=seconds(0.5)
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
                self.breaks.append(err.code().name)
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
