"""The /docs page and an EventSource in headless Chromium (Debian's), via playwright-core."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.gateway.support import Stack
from tests.helpers import REPO_ROOT

SCRIPT = Path(__file__).with_name("browser_check.js")


def test_docs_page_try_it_out_and_a_live_event_source(
    stack: Stack, account: str, tmp_path: Path
) -> None:
    # Missing tools are a failure, not a skip: .ci/run installs them.
    assert shutil.which("node"), "node is required"
    assert Path("/usr/bin/chromium").exists(), "Debian's chromium is required"
    assert (REPO_ROOT / "node_modules" / "playwright-core").is_dir(), "run make node"
    token = stack.token(account, "calendars:write", "activity:read")
    shot = tmp_path / "docs.png"
    done = subprocess.run(
        ["node", str(SCRIPT), stack.url, token, account, str(shot)],
        capture_output=True, text=True, timeout=180, cwd=REPO_ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert "error" not in seen, seen
    assert seen["title"] == "Almanac API"
    assert seen["tags"] == [
        "AccountService", "CalendarService", "EventService", "AvailabilityService",
        "ActivityService",
    ]  # fmt: skip
    assert seen["tryItOutStatus"] == "200"
    assert json.loads(seen["tryItOutBody"])["timeZones"][0]["id"] == "Europe/Berlin"
    sse = seen["sse"]
    assert sse["createStatus"] == 200
    snapshot = sse["data"]["activity"]["calendarSnapshot"]
    assert snapshot["displayName"] == "Live from the browser"
    assert sse["id"] == sse["data"]["activity"]["cursor"]
    assert shot.stat().st_size > 10_000
