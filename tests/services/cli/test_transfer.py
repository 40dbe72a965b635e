"""``almanac import`` and ``almanac export`` against the running services."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import icalendar
from almanac.v1 import event_service_pb2 as ev_pb

from tests.helpers import REPO_ROOT, Almanac, TestAccount, list_all
from tests.services.events.support import ts, utc


def _cli(almanac: Almanac, account: TestAccount, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
    env["ALMANAC_CALENDAR_PORT"] = almanac.calendar_address.rsplit(":", 1)[1]
    env["ALMANAC_TOKEN"] = account.token("calendars:write")
    return subprocess.run(
        [sys.executable, "-m", "services", *args], cwd=REPO_ROOT, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _document(events: int, bad_at: int | None = None, ftp_at: int | None = None) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//EN"]
    for i in range(events):
        start = "20261299T090000Z" if i == bad_at else f"202611{1 + i % 28:02d}T090000Z"
        lines += ["BEGIN:VEVENT", f"UID:cli-{i}", "DTSTAMP:20261101T000000Z",
                  f"DTSTART:{start}", f"SUMMARY:Event {i}"]  # fmt: skip
        if i == ftp_at:
            lines.append("ATTACH:ftp://example.com/x.pdf")
        lines.append("END:VEVENT")
    return "\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n"


def _line_of(document: str, needle: str) -> int:
    return next(n for n, line in enumerate(document.split("\r\n"), 1) if needle in line)


def _count(almanac: Almanac, account: TestAccount) -> int:
    request = ev_pb.ListEventsRequest(
        parent=account.primary, start_time=ts(utc(2026, 11, 1)), end_time=ts(utc(2026, 12, 1)),
        page_size=1000,
    )  # fmt: skip
    return len(list_all(almanac.events().ListEvents, request, "events"))


def test_import_in_chunks_with_warnings_then_export(
    almanac: Almanac, account: TestAccount, tmp_path: Path
) -> None:
    document = _document(1200, ftp_at=900)
    path = tmp_path / "big.ics"
    path.write_text(document)
    done = _cli(almanac, account, "import", str(path), "--calendar", account.primary)
    assert done.returncode == 0, done.stderr
    assert "1200/1200 components" in done.stderr
    line = _line_of(document, "ATTACH:ftp")
    assert f"warning: line {line}:" in done.stderr  # the document's line, not the chunk's
    assert _count(almanac, account) == 1200
    again = _cli(almanac, account, "import", str(path), "--calendar", account.primary)
    assert again.returncode == 0 and _count(almanac, account) == 1200
    out = tmp_path / "out.ics"
    exported = _cli(almanac, account, "export", "--calendar", account.primary, "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    assert len(icalendar.Calendar.from_ical(out.read_bytes()).walk("VEVENT")) == 1200


def test_a_rejected_file_writes_nothing_and_names_the_line(
    almanac: Almanac, account: TestAccount, tmp_path: Path
) -> None:
    document = _document(700, bad_at=650)
    path = tmp_path / "bad.ics"
    path.write_text(document)
    done = _cli(almanac, account, "import", str(path), "--calendar", account.primary)
    assert done.returncode == 1
    assert f"line {_line_of(document, '20261299')}" in done.stderr
    assert _count(almanac, account) == 0
