"""HTTP for the fake Graph: the token endpoint, bearer tokens, throttling."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tests.connectors.graph import api

if TYPE_CHECKING:
    from tests.connectors.graph.fake import FakeGraph

__all__ = ["serve"]


def serve(fake: FakeGraph) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    return server, threading.Thread(target=server.serve_forever, daemon=True)


class _Raw:
    """A body sent as it is (garbled on purpose)."""

    def __init__(self, body: bytes) -> None:
        self.body = body


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _token(fake: FakeGraph, form: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
    from tests.connectors.graph.fake import CLIENT_SECRET

    if form.get("grant_type") != "refresh_token":
        return 400, {"error": "unsupported_grant_type"}, {}
    if form.get("client_secret") != CLIENT_SECRET:
        return 401, {"error": "invalid_client", "error_description": "AADSTS7000215"}, {}
    with fake.lock:
        box = next(
            (b for b in fake.mailboxes.values() if form.get("refresh_token") in b.refresh_tokens),
            None,
        )
        if box is None:
            return 400, {"error": "invalid_grant", "error_description": "AADSTS70008"}, {}
        access = "at-" + uuid.uuid4().hex
        fake.access[access] = box.user
        # Microsoft rotates refresh tokens; the older ones stay valid until they expire.
        fresh = "rt-" + uuid.uuid4().hex
        box.refresh_tokens.add(fresh)
        return (
            200,
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "access_token": access,
                "refresh_token": fresh,
                "scope": form.get("scope", ""),
            },
            {},
        )


def _handler(fake: FakeGraph) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            url = urlsplit(self.path)
            parts = [p for p in url.path.split("/") if p]
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if parts[1:] == ["oauth2", "v2.0", "token"] and self.command == "POST":
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                return self._reply(*_token(fake, form))
            if parts[:2] != ["v1.0", "me"]:
                return self._reply(404, _error("ResourceNotFound", "no such segment"), {})
            auth = self.headers.get("Authorization", "")
            with fake.lock:
                user = fake.access.get(auth.removeprefix("Bearer "))
            if user is None:
                return self._reply(
                    401,
                    _error("InvalidAuthenticationToken", "Access token is empty or invalid."),
                    {},
                )
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                return self._reply(400, _error("BadRequest", "not JSON"), {})
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            self._reply(*self._mailbox(user, parts[2:], query, body))

        def _mailbox(
            self, user: str, parts: list[str], query: dict[str, str], body: Any
        ) -> tuple[int, Any, dict[str, str]]:
            with fake.lock:
                fake.in_flight[user] += 1
                fake.peak[user] = max(fake.peak[user], fake.in_flight[user])
                over = fake.in_flight[user] > fake.concurrency_limit
                fake.requests.append((user, self.command, "/".join(parts)))
            try:
                if over:  # Graph: "MailboxConcurrency", 4 at once per app and mailbox
                    fake.throttled.append((user, 429))
                    return (
                        429,
                        _error("ApplicationThrottled", "MailboxConcurrency limit"),
                        {"Retry-After": "1"},
                    )
                fault = fake.take_fault(user, self.command)
                if fault is not None and fault.body is not None:
                    return 200, _Raw(fault.body), {}
                if fault is not None:
                    fake.throttled.append((user, fault.status))
                    return (
                        fault.status,
                        _error(
                            "TooManyRequests" if fault.status == 429 else "ServiceUnavailable",
                            "injected",
                        ),
                        {"Retry-After": f"{fault.retry_after:g}"},
                    )
                if fake.latency:
                    time.sleep(fake.latency)
                with fake.lock:
                    return api.handle(
                        fake, fake.mailboxes[user], self.command, parts, query, self.headers, body
                    )
            finally:
                with fake.lock:
                    fake.in_flight[user] -= 1

        def _reply(self, status: int, payload: Any, extra: dict[str, str]) -> None:
            if isinstance(payload, _Raw):
                data = payload.body
            else:
                data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_POST = do_PATCH = do_DELETE = _serve

    return Handler
