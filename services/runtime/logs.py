"""Process logging: records go through a queue to a thread that writes them.

Formatting and writing happen off the event loop, so a slow terminal or disk
never blocks RPCs. The writer thread does not wait on the queue: it wakes
every `FLUSH_SECONDS`, drains what has accumulated and writes it in one go.
A queue ``get`` per record would wake it (and make it take the GIL from the
event loop) once per RPC for the access log; polling wakes it a few dozen
times a second whatever the load, at the price of lines appearing up to
`FLUSH_SECONDS` late. Records still pending at exit are written then.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["FLUSH_SECONDS", "AccessLine", "LogWriter", "access_sink", "setup_logging"]

FLUSH_SECONDS = 0.05
_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# An access-log line as the event loop hands it over: (time.time(), method,
# code name, milliseconds, peer, request id). See `access_sink`.
AccessLine = tuple[float, str, str, float, str, str]
_access_queue: queue.SimpleQueue[Any] | None = None


def access_sink() -> Callable[[AccessLine], None] | None:
    """Where this process's access lines go without becoming LogRecords.

    Only once `setup_logging` made the process's log ours: a LogRecord costs
    the event loop more than the rest of a small RPC's own work, while the
    writer can format the six fields straight into the same line the
    formatter would write. Elsewhere (tests, an application embedding the
    servers with its own logging) this is None and records are logged.
    """
    return None if _access_queue is None else _access_queue.put


class _QueueHandler(logging.handlers.QueueHandler):
    """Hands records over unformatted: formatting happens on the writer thread."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # The stdlib formats here, on the caller's thread (the event loop for
        # every access line). Records are not changed after logging, so the
        # writer can format them later, and exc_info is kept for it.
        return record


class LogWriter:
    """The thread draining ``records`` into ``stream`` every `FLUSH_SECONDS`."""

    def __init__(
        self,
        records: queue.SimpleQueue[Any],
        stream: TextIO | None = None,
        formatter: logging.Formatter | None = None,
    ) -> None:
        self._records = records
        self._stream = stream
        self._formatter = formatter or logging.Formatter(_FORMAT)
        self._second = -1
        self._stamp = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="almanac-log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write what is pending and end the thread (idempotent)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.drain()

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.drain()

    def _access_line(self, line: AccessLine) -> str:
        when, method, code, ms, peer, rid = line
        second = int(when)
        if second != self._second:  # strftime once a second, as asctime would print it
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        msecs = int((when - second) * 1000)
        return (
            f"{self._stamp},{msecs:03d} INFO almanac.access {method} {code} {ms:.1f}ms"
            f" peer={peer} request_id={rid}"
        )

    def drain(self) -> None:
        lines: list[str] = []
        get = self._records.get_nowait
        while True:
            try:
                record = get()
            except queue.Empty:
                break
            if type(record) is tuple:
                lines.append(self._access_line(record))
                continue
            try:
                lines.append(self._formatter.format(record))
            except Exception:  # a bad format string must not kill the log
                lines.append(f"(unformattable record from {record.name}: {record.msg!r})")
        if not lines:
            return
        stream = self._stream or sys.stderr  # looked up late: tests swap sys.stderr
        try:
            stream.write("\n".join(lines) + "\n")
            stream.flush()
        except (OSError, ValueError):
            pass  # stderr closed or gone: nowhere left to report it


def setup_logging(level: str) -> None:
    """Route every record of the process through the writer thread."""
    global _access_queue
    records: queue.SimpleQueue[Any] = queue.SimpleQueue()
    _access_queue = records
    writer = LogWriter(records)
    writer.start()
    atexit.register(writer.stop)
    root = logging.getLogger()
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    root.addHandler(_QueueHandler(records))
