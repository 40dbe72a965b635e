"""An in-memory remote calendar server, served over HTTP/JSON on loopback.

Each user (``/u/{user}``) has calendars holding items (one per UID: the
events of a single event or a series as ``almanac.v1.Event`` JSON). Every
write gets a new etag and appends to the calendar's change log; a change
token is ``{epoch}.{position}`` and expires when the test calls
:meth:`ReferenceServer.expire_tokens`. Tests also change the "upstream"
directly, make the next requests fail, slow every request down, and read
which requests overlapped (to prove two sync workers never pull one account
at once).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["ReferenceServer"]


@dataclass
class _Calendar:
    props: dict[str, Any]
    default: bool
    etag: str = field(default_factory=lambda: uuid.uuid4().hex)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> {etag, events}
    log: list[tuple[str, bool]] = field(default_factory=list)  # (uid, deleted)
    epoch: int = 1


@dataclass
class _Fault:
    ops: set[str]
    status: int
    count: int
    retry_after: float | None
    user: str | None = None  # None: any user's request


class ReferenceServer:
    def __init__(self, password: str = "secret") -> None:
        self.password = password
        self._lock = threading.RLock()
        self._users: dict[str, dict[str, _Calendar]] = {}
        self._faults: list[_Fault] = []
        self.latency = 0.0
        self.slow_ops: dict[str, float] = {}  # answers of these operations arrive late
        self.page_size = 500
        # (user, op, token asked with, status, start, end) of every request
        self.requests: list[tuple[str, str, str, int, float, float]] = []
        self.in_flight: dict[str, int] = defaultdict(int)
        self.overlaps: list[tuple[str, str]] = []  # (user, op) seen while another ran
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> ReferenceServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def url(self, user: str) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/u/{user}"

    # -- the test's hands on the upstream -------------------------------------

    def add_user(self, user: str, calendars: int = 1) -> None:
        with self._lock:
            cals = self._users.setdefault(user, {})
            for i in range(calendars):
                cals[f"cal{i}"] = _Calendar({"displayName": f"{user} {i}"}, default=i == 0)

    def put(self, user: str, calendar: str, uid: str, events: list[dict[str, Any]]) -> str:
        """Change an item upstream, as another client of the server would."""
        with self._lock:
            return self._put(self._users[user][calendar], uid, events)

    def delete(self, user: str, calendar: str, uid: str) -> None:
        with self._lock:
            self._delete(self._users[user][calendar], uid)

    def items(self, user: str, calendar: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            return json.loads(json.dumps(self._users[user][calendar].items))

    def calendars(self, user: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(c.props) for k, c in self._users[user].items()}

    def expire_tokens(self, user: str) -> None:
        with self._lock:
            for cal in self._users[user].values():
                cal.epoch += 1

    def fail(self, ops: set[str], status: int = 503, count: int = 1,
             retry_after: float | None = 2.0, user: str | None = None) -> None:  # fmt: skip
        """Make the next ``count`` requests of these operations (of ``user``,
        when given: other accounts sync in the background) fail with ``status``."""
        with self._lock:
            self._faults.append(_Fault(set(ops), status, count, retry_after, user))

    # -- state changes --------------------------------------------------------

    @staticmethod
    def _put(cal: _Calendar, uid: str, events: list[dict[str, Any]]) -> str:
        etag = uuid.uuid4().hex
        cal.items[uid] = {"etag": etag, "events": events}
        cal.log.append((uid, False))
        return etag

    @staticmethod
    def _delete(cal: _Calendar, uid: str) -> None:
        del cal.items[uid]
        cal.log.append((uid, True))

    def _fault(self, op: str, user: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if op in fault.ops and fault.count > 0 and fault.user in (None, user):
                    fault.count -= 1
                    return fault
        return None

    # -- the API --------------------------------------------------------------

    def handle(self, method: str, user: str, parts: list[str], query: dict[str, str],
               headers: Any, body: Any) -> tuple[int, Any, dict[str, str]]:  # fmt: skip
        op = _op(method, parts)
        if (fault := self._fault(op, user)) is not None:
            extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            return fault.status, {"error": f"injected failure of {op}"}, extra
        with self._lock:
            cals = self._users.get(user)
            if cals is None:
                return 404, {"error": "no such user"}, {}
            if not parts:
                return self._calendars(method, cals, body)
            cal = cals.get(parts[0])
            if cal is None:
                return 404, {"error": "no such calendar"}, {}
            if len(parts) == 1:
                return self._calendar(method, cals, parts[0], headers, body)
            if parts[1] == "changes":
                return self._changes(cal, query.get("token", ""))
            if len(parts) == 2:
                return 200, [{"uid": u, **i} for u, i in cal.items.items()], {}
            return self._item(method, cal, parts[2], headers, body)

    def _calendars(self, method: str, cals: dict[str, _Calendar], body: Any) -> Any:
        if method == "POST":
            cid = "c" + uuid.uuid4().hex[:12]
            cals[cid] = _Calendar(body, default=False)
            return 200, {"id": cid, "etag": cals[cid].etag}, {}
        return (
            200,
            [
                {"id": k, "calendar": c.props, "etag": c.etag, "default": c.default}
                for k, c in cals.items()
            ],
            {},
        )

    def _calendar(self, method: str, cals: dict[str, _Calendar], cid: str, headers: Any,
                  body: Any) -> Any:  # fmt: skip
        cal = cals[cid]
        if headers.get("If-Match") not in (None, cal.etag):
            return 412, {"error": "etag mismatch"}, {}
        if method == "DELETE":
            del cals[cid]
            return 204, None, {}
        cal.props, cal.etag = body, uuid.uuid4().hex
        return 200, {"id": cid, "etag": cal.etag}, {}

    def _changes(self, cal: _Calendar, token: str) -> Any:
        if token:
            epoch, _, position = token.partition(".")
            if int(epoch) != cal.epoch or int(position) > len(cal.log):
                return 410, {"error": "sync token expired"}, {}
            start = int(position)
            changed = dict(cal.log[start : start + self.page_size])
            end = min(len(cal.log), start + self.page_size)
            items = [{"uid": u, **cal.items[u]} for u, gone in changed.items()
                     if not gone and u in cal.items]  # fmt: skip
            deleted = [u for u, gone in changed.items() if gone and u not in cal.items]
            return 200, {"items": items, "deleted": deleted, "token": f"{cal.epoch}.{end}",
                         "more": end < len(cal.log)}, {}  # fmt: skip
        # A full listing: all items, in pages when there are many.
        items = [{"uid": u, **i} for u, i in sorted(cal.items.items())]
        return 200, {"items": items, "deleted": [], "token": f"{cal.epoch}.{len(cal.log)}",
                     "more": False}, {}  # fmt: skip

    def _item(self, method: str, cal: _Calendar, uid: str, headers: Any, body: Any) -> Any:
        current = cal.items.get(uid)
        if headers.get("If-None-Match") == "*" and current is not None:
            return 412, {"error": "exists"}, {}
        match = headers.get("If-Match")
        if match is not None and (current is None or current["etag"] != match):
            return 412, {"error": "etag mismatch"}, {}
        if method == "DELETE":
            if current is None:
                return 404, {"error": "no such item"}, {}
            self._delete(cal, uid)
            return 204, None, {}
        return 200, {"etag": self._put(cal, uid, body["events"])}, {}


def _op(method: str, parts: list[str]) -> str:
    if not parts:
        return "create_calendar" if method == "POST" else "list_calendars"
    if len(parts) == 1:
        return {"DELETE": "delete_calendar"}.get(method, "update_calendar")
    if parts[1] == "changes":
        return "changes"
    if len(parts) == 2:
        return "list_items"
    return {"DELETE": "delete_item", "PUT": "put_item"}.get(method, "get_item")


def _handler(server: ReferenceServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _serve(self) -> None:
            url = urlsplit(self.path)
            segments = [s for s in url.path.split("/") if s]
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            if len(segments) < 2 or segments[0] != "u":
                return self._reply(404, {"error": "not found"}, {})
            user, parts = segments[1], segments[2:]
            if parts[:1] == ["calendars"]:
                parts = parts[1:]
            if self.headers.get("Authorization") != _basic(user, server.password):
                return self._reply(401, {"error": "bad credentials"}, {})
            op = _op(self.command, parts)
            start, status = time.monotonic(), 500
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            with server._lock:
                if server.in_flight[user]:
                    server.overlaps.append((user, op))
                server.in_flight[user] += 1
            try:
                if server.latency:
                    time.sleep(server.latency)
                status, payload, extra = server.handle(
                    self.command, user, parts, query, self.headers, body
                )
                # A slow answer on the way back: what it says may be stale on arrival.
                time.sleep(server.slow_ops.get(op, 0.0))
            finally:
                with server._lock:
                    server.in_flight[user] -= 1
                    server.requests.append(
                        (user, op, query.get("token", ""), status, start, time.monotonic())
                    )
            self._reply(status, payload, extra)

        def _reply(self, status: int, payload: Any, extra: dict[str, str]) -> None:
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away (a test killed it)

        do_GET = do_PUT = do_POST = do_DELETE = _serve

    return Handler


def _basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
