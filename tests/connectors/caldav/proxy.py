"""A fault-injecting HTTP proxy in front of a real CalDAV server (no tests here).

Forwards every request to the server unchanged, unless the test set a
fault for its method: ``delay`` (seconds before forwarding), ``status``
(answer that status, with ``Retry-After`` when given, without forwarding)
or ``garbage`` (answer 207 with a body that is not XML).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

__all__ = ["Fault", "FaultProxy"]

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class Fault:
    delay: float = 0.0
    status: int = 0
    retry_after: str = ""
    garbage: bool = False


class FaultProxy:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.faults: dict[str, Fault] = {}  # method ("*" for all) -> fault
        self.seen: list[tuple[str, str, int]] = []  # (method, path, status answered)
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def fault(self, method: str, **fault: Any) -> None:
        with self._lock:
            self.faults[method] = Fault(**fault)

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def fault_for(self, method: str) -> Fault | None:
        with self._lock:
            return self.faults.get(method) or self.faults.get("*")

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            fault = proxy.fault_for(self.command)
            if fault and fault.delay:
                time.sleep(fault.delay)
            if fault and fault.status:
                extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return self._reply(fault.status, b"injected failure", extra)
            if fault and fault.garbage:
                return self._reply(207, b"<<<this is not XML&&&", {})
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            try:
                with httpx.Client(timeout=60) as client:
                    reply = client.request(
                        self.command, proxy.target + self.path, headers=headers, content=body
                    )
            except httpx.HTTPError:
                return self._reply(502, b"bad gateway", {})
            kept = {
                k: v
                for k, v in reply.headers.items()
                if k.lower() not in _HOP | {"content-encoding"}
            }
            self._reply(reply.status_code, reply.content, kept)

        def _reply(self, status: int, data: bytes, extra: dict[str, str]) -> None:
            proxy.seen.append((self.command, self.path, status))
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_PUT = do_POST = do_DELETE = do_PROPFIND = do_REPORT = _serve
        do_PROPPATCH = do_MKCALENDAR = do_MKCOL = do_OPTIONS = _serve

    return Handler
