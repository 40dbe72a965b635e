"""A stateful fake of Microsoft Graph v1.0 calendars, on real HTTP (loopback).

What it serves: the token endpoint (``/{tenant}/oauth2/v2.0/token``, refresh
grant), ``/v1.0/me/calendars`` (list, create, read, update, delete),
events (create in a calendar, read with ``$expand=exceptionOccurrences``,
PATCH and DELETE with ``If-Match`` on ``@odata.etag``; an occurrence patched
becomes an exception, one deleted goes to ``cancelledOccurrences``),
``/events/{id}/instances`` and ``/calendars/{id}/calendarView/delta`` with
``@odata.nextLink`` / ``@odata.deltaLink`` and ``@removed``. Times are
answered in the zone of ``Prefer: outlook.timezone`` (UTC without it).

Every request body and every event or calendar it answers is checked against
Graph's metadata (:mod:`.schema`) plus the documented rules the metadata
cannot say (datetime text, known zones, the pattern's required members); a
violation is answered 400 when it is the request's and always recorded in
``violations``, which the tests' fixtures require to be empty.

Where Graph's documentation is silent the fake chooses, and says so here:
occurrence ids are ``{master id}_{yyyymmdd}`` (opaque to the connector); an
occurrence keeps its id when patched into an exception; a PATCH that changes
a master's times or pattern drops its exceptions and cancellations, as
Exchange does; calendars take no ``If-Match`` (they carry a ``changeKey``);
all-day events are answered at midnight, labelled with the asked zone;
calendarView/delta never returns series masters (only single instances,
occurrences and exceptions, as documented).

The tests' hands: ``add_user``, ``put``/``patch``/``remove`` as another
client, ``expire_tokens``, ``revoke``, ``throttle`` (429/503 with
Retry-After) and a limit of 4 concurrent requests per mailbox, as Graph has.
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from tests.connectors.graph import api
from tests.connectors.graph.http import serve
from tests.connectors.graph.schema import SCHEMA_PATH
from tests.connectors.graph.store import Calendar, Mailbox, public

__all__ = ["FakeGraph"]

CLIENT_SECRET = "graph-secret"


@dataclass
class _Fault:
    status: int
    count: int
    retry_after: float
    user: str | None  # None: any mailbox
    methods: frozenset[str]  # empty: any method
    body: bytes | None = None  # a 200 answer with this body instead (a garbled one)


class FakeGraph:
    def __init__(self) -> None:
        if not SCHEMA_PATH.is_file():  # fail loudly here, not in a handler thread
            raise FileNotFoundError(
                f"Graph's schema is not at {SCHEMA_PATH}: the fake checks every payload"
                " against it (set ALMANAC_GRAPH_SCHEMA to its path)"
            )
        self.lock = threading.RLock()
        self.mailboxes: dict[str, Mailbox] = {}
        self.access: dict[str, str] = {}  # access token -> user
        self.violations: list[str] = []
        self.faults: list[_Fault] = []
        self.concurrency_limit = 4
        self.in_flight: dict[str, int] = defaultdict(int)
        self.peak: dict[str, int] = defaultdict(int)
        self.throttled: list[tuple[str, int]] = []  # (user, status) answered
        self.latency = 0.0
        self.requests: list[tuple[str, str, str]] = []  # (user, method, path)
        self.page_size = 10
        self._server, self._thread = serve(self)

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> FakeGraph:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.root}/v1.0"

    def token_url(self, tenant: str = "contoso") -> str:
        return f"{self.root}/{tenant}/oauth2/v2.0/token"

    # -- the tests' hands ----------------------------------------------------------

    def add_user(self, user: str, calendars: int = 1) -> str:
        """A mailbox with its default calendar (and more); its refresh token."""
        with self.lock:
            token = "rt-" + uuid.uuid4().hex
            box = Mailbox(user, {token})
            for i in range(calendars):
                cid = f"cal{i}-" + uuid.uuid4().hex[:8]
                box.calendars[cid] = Calendar(
                    cid, "Calendar" if i == 0 else f"{user} {i}", default=i == 0
                )
            self.mailboxes[user] = box
            return token

    def default_calendar(self, user: str) -> str:
        return self.mailboxes[user].default().id

    def call(
        self,
        user: str,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Use the API as another client of the mailbox would (no HTTP)."""
        route, _, query = path.partition("?")
        with self.lock:
            status, payload, _ = api.handle(
                self,
                self.mailboxes[user],
                method,
                route.strip("/").split("/"),
                {k: v[0] for k, v in parse_qs(query).items()},
                headers or {},
                body,
            )
            return status, payload

    def events(self, user: str, calendar: str | None = None) -> list[dict[str, Any]]:
        """Singles and masters, as stored, with their exceptions under ``_exceptions``."""
        with self.lock:
            box = self.mailboxes[user]
            cal = box.calendars[calendar] if calendar else box.default()
            return [
                dict(public(e), _exceptions=list(e["_exceptions"].values()))
                for e in cal.events.values()
            ]

    def calendar_names(self, user: str) -> set[str]:
        with self.lock:
            return {c.name for c in self.mailboxes[user].calendars.values()}

    def expire_tokens(self, user: str) -> None:
        """Forget every delta state of the mailbox (Graph's cache let it go)."""
        with self.lock:
            self.mailboxes[user].sessions.clear()
            self.mailboxes[user].pages.clear()

    def revoke(self, user: str) -> None:
        """The user withdrew consent: the refresh token and access tokens stop working."""
        with self.lock:
            self.mailboxes[user].refresh_tokens.clear()
            for token in [t for t, u in self.access.items() if u == user]:
                del self.access[token]

    def throttle(
        self,
        count: int,
        status: int = 429,
        retry_after: float = 1.0,
        user: str | None = None,
        methods: frozenset[str] = frozenset(),
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` and Retry-After."""
        with self.lock:
            self.faults.append(_Fault(status, count, retry_after, user, methods))

    def garble(self, count: int, body: bytes, user: str, methods: frozenset[str]) -> None:
        """Answer the next ``count`` matching requests 200 with ``body``, unprocessed."""
        with self.lock:
            self.faults.append(_Fault(200, count, 0.0, user, methods, body))

    def take_fault(self, user: str, method: str) -> _Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.user not in (None, user) or (
                    fault.methods and method not in fault.methods
                ):
                    continue
                if fault.count > 0:
                    fault.count -= 1
                    return fault
        return None

    def note(self, problem: str) -> None:
        with self.lock:
            self.violations.append(f"{datetime.now(UTC):%H:%M:%S} {problem}")
