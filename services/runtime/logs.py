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
from typing import TextIO

__all__ = ["FLUSH_SECONDS", "LogWriter", "setup_logging"]

FLUSH_SECONDS = 0.05
_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


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
        records: queue.SimpleQueue[logging.LogRecord],
        stream: TextIO | None = None,
        formatter: logging.Formatter | None = None,
    ) -> None:
        self._records = records
        self._stream = stream
        self._formatter = formatter or logging.Formatter(_FORMAT)
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

    def drain(self) -> None:
        lines: list[str] = []
        get = self._records.get_nowait
        while True:
            try:
                record = get()
            except queue.Empty:
                break
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
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    writer = LogWriter(records)
    writer.start()
    atexit.register(writer.stop)
    root = logging.getLogger()
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    root.addHandler(_QueueHandler(records))
