"""A real Radicale (CalDAV) server for the ``events`` scenario, driven with plain ``httpx``.

`start_radicale` runs ``python -m radicale`` from this venv on a free loopback
port with a throw-away config: filesystem storage in the bench's temp dir,
``[auth] type = none`` (any Basic login is accepted and becomes the user) and
``owner_only`` rights, so user ``bench`` owns ``/bench/``. Radicale's defaults
are kept otherwise (fsync on, item cache on, builtin server), except two
anti-DoS caps raised so that they cannot decide the result: a REPORT may
return more than 10,000 expanded occurrences, and an RRULE may have more
than 10,000 of them.

No ``caldav`` package: it replaces ``urllib3`` in the venv (see
``shared/reference/feasibility.md``, gotcha 1). The client is synchronous
httpx, which starts no threads in the bench process (`bench.proc` forks
children after it).
"""

from __future__ import annotations

import socket
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.proc import BenchError, Child, ProcessGroup

__all__ = ["Radicale", "ReportResult", "start_radicale"]

USER = "bench"
START_TIMEOUT_S = 30.0
# The expanded month REPORT takes seconds; bulk PUT of 10,000 events longer.
REQUEST_TIMEOUT_S = 600.0
# Above any month of the bench calendar; Radicale's default is 10,000 (total
# expanded VEVENTs per REPORT, and occurrences per RRULE).
MAX_OCCURRENCES = 1_000_000

_NS = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:caldav"}
_CONFIG = """\
[server]
hosts = 127.0.0.1:{port}
max_vevent_rrule_occurrence = {max_occ}
timeout = {timeout}

[auth]
type = none

[rights]
type = owner_only

[storage]
filesystem_folder = {folder}

[web]
type = none

[logging]
level = warning

[reporting]
max_expand_occurrence = {max_occ}
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _utc(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _query_body(start: datetime, end: datetime, *, expand: bool) -> bytes:
    # calendar-data only, as the caldav package's date search asks: Radicale
    # 3.9 expands every object once per requested property, so adding
    # D:getetag would double the expanded query's time.
    expand_el = f'<C:expand start="{_utc(start)}" end="{_utc(end)}"/>' if expand else ""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><C:calendar-data>{expand_el}</C:calendar-data></D:prop>
  <C:filter>
    <C:comp-filter name="VCALENDAR">
      <C:comp-filter name="VEVENT">
        <C:time-range start="{_utc(start)}" end="{_utc(end)}"/>
      </C:comp-filter>
    </C:comp-filter>
  </C:filter>
</C:calendar-query>""".encode()


@dataclass(frozen=True)
class ReportResult:
    seconds: float
    objects: int  # D:response elements: calendar objects (a series is one)
    vevents: int  # VEVENT components in the calendar-data: instances when expanded
    body_bytes: int


@dataclass
class Radicale:
    child: Child
    base_url: str
    client: httpx.Client

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def _check(self, response: httpx.Response, *expected: int) -> httpx.Response:
        if response.status_code not in expected:
            raise self.child.fail(
                f"answered {response.request.method} {response.request.url.path} with"
                f" {response.status_code}: {response.text[:300]!r}"
            )
        return response

    def mkcalendar(self, collection: str, name: str) -> None:
        body = f"""<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop><D:displayname>{name}</D:displayname></D:prop></D:set>
</C:mkcalendar>"""
        self._check(self.client.request("MKCALENDAR", self.url(collection), content=body), 201)

    def put_collection(self, collection: str, ics: bytes) -> float:
        """Replace the collection's content with the VCALENDAR ``ics``; seconds taken."""
        t0 = time.perf_counter()
        self._check(
            self.client.put(
                self.url(collection),
                content=ics,
                headers={"Content-Type": "text/calendar; charset=utf-8"},
            ),
            201,
            204,
        )
        return time.perf_counter() - t0

    def put_event(self, collection: str, uid: str, ics: bytes) -> float:
        """Create one calendar object ``{uid}.ics``; seconds taken."""
        t0 = time.perf_counter()
        self._check(
            self.client.put(
                self.url(f"{collection.rstrip('/')}/{uid}.ics"),
                content=ics,
                headers={"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"},
            ),
            201,
        )
        return time.perf_counter() - t0

    def count_objects(self, collection: str) -> int:
        """Calendar objects in the collection (PROPFIND Depth 1, the collection not counted)."""
        body = b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>'  # noqa: E501
        response = self._check(
            self.client.request(
                "PROPFIND", self.url(collection), content=body, headers={"Depth": "1"}
            ),
            207,
        )
        root = ET.fromstring(response.content)
        hrefs = [h.text or "" for h in root.iterfind("D:response/D:href", _NS)]
        return sum(1 for h in hrefs if h.endswith(".ics"))

    def calendar_query(
        self, collection: str, start: datetime, end: datetime, *, expand: bool
    ) -> ReportResult:
        """``calendar-query`` REPORT (Depth 1) for VEVENTs in [start, end)."""
        body = _query_body(start, end, expand=expand)
        headers = {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"}
        t0 = time.perf_counter()
        response = self._check(
            self.client.request("REPORT", self.url(collection), content=body, headers=headers),
            207,
        )
        seconds = time.perf_counter() - t0
        root = ET.fromstring(response.content)
        objects = vevents = 0
        for resp in root.iterfind("D:response", _NS):
            objects += 1
            for data in resp.iterfind(".//C:calendar-data", _NS):
                vevents += sum(
                    1 for line in (data.text or "").splitlines() if line.strip() == "BEGIN:VEVENT"
                )
        return ReportResult(seconds, objects, vevents, len(response.content))

    def close(self) -> None:
        self.client.close()


def start_radicale(group: ProcessGroup, workdir: Path) -> Radicale:
    """Start Radicale and wait until it answers HTTP; `ProcessGroup` stops it."""
    folder = workdir / "radicale-collections"
    folder.mkdir()
    port = _free_port()
    config = workdir / "radicale.conf"
    config.write_text(
        _CONFIG.format(
            port=port, folder=folder, max_occ=MAX_OCCURRENCES, timeout=int(REQUEST_TIMEOUT_S)
        )
    )
    child = group.spawn("radicale", ["-m", "radicale", "--config", str(config)])
    base_url = f"http://127.0.0.1:{port}"
    client = httpx.Client(auth=(USER, "bench"), timeout=REQUEST_TIMEOUT_S)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if child.popen.poll() is not None:
            client.close()
            raise child.fail(f"exited with {child.popen.returncode} before answering")
        try:
            # Any authenticated request also creates the principal collection /bench/.
            client.request("PROPFIND", f"{base_url}/{USER}/", headers={"Depth": "0"})
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                client.close()
                raise BenchError(
                    f"radicale did not answer on {base_url} within {START_TIMEOUT_S:.0f} s"
                ) from None
            time.sleep(0.1)
    child.address = f"127.0.0.1:{port}"
    return Radicale(child, base_url, client)
