"""Reading the ``/metrics`` endpoints of real processes (no tests here).

A process started with ``metrics_port=0`` prints ``METRICS <name>
<host:port>``; `metrics_address` reads it from the process's stdout.
`Scrape` parses the text with prometheus_client's own parser, `promtool_check`
runs Debian's ``promtool check metrics`` on it, and `Prometheus` runs a real
Prometheus server scraping the endpoints. promtool and prometheus come from
Debian's ``prometheus`` package (.ci/run installs it); a missing one fails
the test that needs it, with the install command.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import ServiceProcess

__all__ = ["Prometheus", "Scrape", "metrics_address", "promtool_check", "require_tool"]

MISSING = "{tool} is missing: install Debian's prometheus package (apt-get install prometheus)"


def require_tool(tool: str) -> str:
    """The path of ``tool``; fails the test (never skips) when it is not installed."""
    path = shutil.which(tool)
    assert path is not None, MISSING.format(tool=tool)
    return path


def metrics_address(proc: ServiceProcess, timeout: float = 10.0) -> str:
    """``host:port`` of the process's /metrics endpoint, from its METRICS line."""
    prefix = f"METRICS {proc.name} "
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in proc.stdout_path.read_text(errors="replace").splitlines():
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        time.sleep(0.05)
    raise AssertionError(f"almanac-{proc.name} printed no METRICS line:\n{proc.logs()}")


class Scrape:
    """One scrape of a /metrics endpoint: its text and its samples."""

    def __init__(self, address: str) -> None:
        reply = httpx.get(f"http://{address}/metrics", timeout=10)
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-type"].startswith("text/plain"), reply.headers
        self.text = reply.text
        self.samples: list[tuple[str, dict[str, str], float]] = [
            (s.name, dict(s.labels), s.value)
            for family in text_string_to_metric_families(self.text)
            for s in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples ``name`` whose labels include ``labels`` (0 if none)."""
        return sum(v for n, ls, v in self.samples if n == name and labels.items() <= ls.items())

    def series(self, name: str, **labels: str) -> list[dict[str, str]]:
        """The label sets of the samples ``name`` that include ``labels``."""
        return [ls for n, ls, _ in self.samples if n == name and labels.items() <= ls.items()]

    def buckets(self, name: str, **labels: str) -> list[tuple[float, float]]:
        """(upper bound, cumulative count) of one histogram series, by bound."""
        return sorted(
            (float(ls["le"]), v)
            for n, ls, v in self.samples
            if n == f"{name}_bucket" and labels.items() <= ls.items()
        )


def promtool_check(text: str) -> None:
    """``promtool check metrics``: the exposition format and Prometheus' naming lint."""
    done = subprocess.run(
        [require_tool("promtool"), "check", "metrics"],
        input=text.encode(),
        capture_output=True,
        timeout=30,
    )
    report = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 0 and not report.strip(), f"promtool check metrics:\n{report}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Starting(Exception):
    """Prometheus answered 503: not ready yet."""


class Prometheus:
    """A real Prometheus server scraping ``targets`` every half second."""

    def __init__(self, root: Path, targets: Iterable[str]) -> None:
        binary = require_tool("prometheus")
        root.mkdir(parents=True, exist_ok=True)
        listed = ", ".join(f"'{t}'" for t in targets)
        config = root / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 500ms\n  evaluation_interval: 500ms\n"
            "scrape_configs:\n  - job_name: almanac\n"
            f"    static_configs:\n      - targets: [{listed}]\n"
        )
        self.address = f"127.0.0.1:{_free_port()}"
        self.log = root / "prometheus.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [binary, f"--config.file={config}", f"--storage.tsdb.path={root / 'data'}",
                 f"--web.listen-address={self.address}", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector of ``expr`` (an empty list until there are samples)."""
        reply = httpx.get(f"http://{self.address}/api/v1/query", params={"query": expr}, timeout=5)
        if reply.status_code == 503:  # still starting (replaying its write-ahead log)
            raise _Starting(reply.text)
        body = reply.json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_for(self, expr: str, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Query ``expr`` until it has at least ``count`` series."""
        deadline = time.monotonic() + timeout
        last: list[dict[str, Any]] | str = "no answer"
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"prometheus exited:\n{self.log.read_text()}"
            try:
                last = self.query(expr)
                if len(last) >= count:
                    return last
            except (httpx.HTTPError, _Starting) as exc:
                last = repr(exc)  # still starting
            time.sleep(0.25)
        raise AssertionError(f"{expr}: wanted {count} series, last answer {last}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
