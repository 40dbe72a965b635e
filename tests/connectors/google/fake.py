"""A fake Google Calendar API v3 and OAuth token endpoint on loopback HTTP.

Stateful (see ``state.py``) and strict: every request is routed by the
discovery document's own method paths, its query parameters and body are
validated against the document, and so is every response; a violation is
kept in :attr:`FakeGoogle.violations` (the fixtures fail the test on any)
and a bad request is answered 400, as Google would. Tests reach in to change
events "from another client", expire access or sync tokens, revoke refresh
tokens and inject faults (429 storms, 403 rate limits, 5xx).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import schema
from .methods import EventsApi
from .state import ApiError, Calendar

__all__ = ["FakeGoogle"]

_PREFIX = "/calendar/v3/"


@dataclass
class _Fault:
    status: int
    reason: str
    count: int
    domain: str
    methods: set[str]
    payload: Any = None  # sent as is instead of Google's error body


class FakeGoogle:
    def __init__(self, validate: bool = True) -> None:
        # Only the benchmark turns response validation off: it measures the
        # connector, not this process checking 10,000 events per listing.
        self.validate = validate
        self.lock = threading.RLock()
        self.users: dict[str, dict[str, Calendar]] = {}
        self.refresh_tokens: dict[str, tuple[str, str, str]] = {}  # token -> (user, id, secret)
        self.access: dict[str, tuple[str, float]] = {}  # token -> (user, expiry)
        self.token_lifetime = 3600
        self.violations: list[str] = []
        self.calls: Counter[str] = Counter()  # method name -> requests
        self.answers: Counter[tuple[str, int]] = Counter()  # (method name, status) -> replies
        self.token_grants = 0
        self.page_size = 2500  # the most one page holds, whatever maxResults says
        self._faults: list[_Fault] = []
        self.events = EventsApi(self)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    # -- lifecycle and the test's hands -------------------------------------

    def start(self) -> FakeGoogle:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    @property
    def token_url(self) -> str:
        return self.url + "/token"

    def add_user(self, user: str, time_zone: str = "UTC") -> str:
        """A user with a primary calendar; returns a refresh token of theirs."""
        with self.lock:
            email = f"{user}@example.com"
            self.users[user] = {email: Calendar(email, email, email, time_zone, primary=True)}
        return self.add_refresh_token(user)

    def add_calendar(self, user: str, summary: str, role: str = "owner") -> str:
        with self.lock:
            cid = uuid.uuid4().hex + "@group.calendar.google.com"
            self.users[user][cid] = Calendar(cid, summary, f"{user}@example.com", role=role)
            return cid

    def calendar(self, user: str, cid: str = "") -> Calendar:
        cals = self.users[user]
        return cals[cid] if cid else next(c for c in cals.values() if c.primary)

    def add_refresh_token(self, user: str) -> str:
        """A new consent of ``user``."""
        with self.lock:
            token = "1//" + uuid.uuid4().hex
            self.refresh_tokens[token] = (user, "client-" + user, "secret")
            return token

    def revoke(self, user: str) -> None:
        with self.lock:
            for token in [t for t, v in self.refresh_tokens.items() if v[0] == user]:
                del self.refresh_tokens[token]
            self.access = {t: v for t, v in self.access.items() if v[0] != user}

    def expire_access_tokens(self) -> None:
        with self.lock:
            self.access.clear()

    def fail(
        self,
        status: int,
        reason: str,
        count: int = 1,
        domain: str = "usageLimits",
        methods: set[str] | None = None,
        payload: Any = None,
    ) -> None:
        """The next ``count`` API calls (of ``methods``, default any) fail so
        (with ``payload`` as the reply body: not Google's, on purpose)."""
        with self.lock:
            self._faults.append(_Fault(status, reason, count, domain, methods or set(), payload))

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def as_user(self, user: str, http: str, path: str, body: Any = None, **query: str) -> Any:
        """Another client of ``user``'s calendars, through the same validated API."""
        with self.lock:
            token = "ya29.test-" + uuid.uuid4().hex
            self.access[token] = (user, time.monotonic() + 60)
        status, reply = self.api(
            http,
            path,
            {k: [v] for k, v in query.items()},
            {"Authorization": f"Bearer {token}"},
            body,
        )
        assert status < 300, reply
        return reply

    # -- serving ------------------------------------------------------------

    def grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if form.get("grant_type") != "refresh_token":
                return 400, {"error": "unsupported_grant_type"}
            found = self.refresh_tokens.get(form.get("refresh_token", ""))
            if found is None:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                }
            if (found[1], found[2]) != (form.get("client_id"), form.get("client_secret")):
                return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
            self.token_grants += 1
            token = "ya29." + uuid.uuid4().hex
            self.access[token] = (found[0], time.monotonic() + self.token_lifetime)
            return 200, {
                "access_token": token,
                "expires_in": self.token_lifetime,
                "token_type": "Bearer",
                "scope": "https://www.googleapis.com/auth/calendar",
            }

    def api(
        self, http: str, path: str, query: dict[str, list[str]], headers: Any, body: Any
    ) -> tuple[int, Any]:
        found = schema.find_method(http, path)
        if found is None:
            return 404, ApiError(404, "notFound", f"no method {http} {path}").body()
        method, params = found
        with self.lock:
            self.calls[method.name] += 1
            status, reply = self._api(method, params, query, headers, body)
            self.answers[method.name, status] += 1
            return status, reply

    def _api(
        self,
        method: schema.Method,
        params: dict[str, str],
        query: dict[str, list[str]],
        headers: Any,
        body: Any,
    ) -> tuple[int, Any]:
        problems = method.check_query(query)
        if "request" in method.spec:
            problems += schema.validate(body, method.spec["request"], f"{method.name} request")
        if problems:
            self.violations.extend(problems)
            return 400, ApiError(400, "invalid", "; ".join(problems)).body()
        user = self._user(headers.get("Authorization", ""))
        if user is None:
            return 401, ApiError(401, "authError", "Invalid Credentials").body()
        fault = self._fault(method.name)
        if fault is not None and fault.payload is not None:
            return fault.status, fault.payload
        if fault is not None:
            return fault.status, ApiError(fault.status, fault.reason, "fault", fault.domain).body()
        args = {k: unquote(v) for k, v in params.items()}
        q = {k: v[0] for k, v in query.items()}
        try:
            status, reply = self.events.serve(method.name, user, args, q, headers, body)
        except ApiError as exc:
            return exc.code, exc.body()
        if self.validate and "response" in method.spec and reply is not None:
            self.violations.extend(
                schema.validate(reply, method.spec["response"], f"{method.name} response")
            )
        return status, reply

    def _user(self, authorization: str) -> str | None:
        token = authorization.removeprefix("Bearer ")
        found = self.access.get(token)
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    def _fault(self, name: str) -> _Fault | None:
        for fault in self._faults:
            if fault.count > 0 and (not fault.methods or name in fault.methods):
                fault.count -= 1
                return fault
        return None


def _handler(fake: FakeGoogle) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if parts.path == "/token" and self.command == "POST":
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                self._reply(*fake.grant(form))
                return
            if not parts.path.startswith(_PREFIX):
                self._reply(404, ApiError(404, "notFound", "Not Found").body())
                return
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                self._reply(400, ApiError(400, "parseError", "Parse Error").body())
                return
            query = parse_qs(parts.query, keep_blank_values=True)
            self._reply(
                *fake.api(self.command, parts.path[len(_PREFIX) :], query, self.headers, body)
            )

        def _reply(self, status: int, payload: Any) -> None:
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler
