"""The log writer thread (services/runtime/logs.py): batches, order, exit."""

from __future__ import annotations

import io
import logging
import queue
import time

from services.runtime.logs import FLUSH_SECONDS, LogWriter


def _record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)


def test_records_are_written_in_order_within_a_flush_interval() -> None:
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    out = io.StringIO()
    writer = LogWriter(records, out, logging.Formatter("%(name)s %(message)s"))
    writer.start()
    try:
        for i in range(500):
            records.put(_record("almanac.access", "call %d", i))
        deadline = time.monotonic() + 20 * FLUSH_SECONDS + 2
        while out.getvalue().count("\n") < 500 and time.monotonic() < deadline:
            time.sleep(FLUSH_SECONDS)
        lines = out.getvalue().splitlines()
        assert lines == [f"almanac.access call {i}" for i in range(500)]
    finally:
        writer.stop()


def test_stop_writes_what_is_still_pending() -> None:
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    out = io.StringIO()
    writer = LogWriter(records, out, logging.Formatter("%(message)s"))
    # Never started: only stop() can have written these.
    records.put(_record("x", "last words"))
    writer.stop()
    assert out.getvalue() == "last words\n"


def test_a_record_that_cannot_be_formatted_does_not_stop_the_others() -> None:
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    out = io.StringIO()
    writer = LogWriter(records, out, logging.Formatter("%(message)s"))
    records.put(_record("x", "bad %d", "not a number"))
    records.put(_record("x", "good %s", "one"))
    writer.drain()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("(unformattable record from x")
    assert lines[1] == "good one"


def test_an_access_line_reads_as_the_logged_record_would() -> None:
    records: queue.SimpleQueue[object] = queue.SimpleQueue()
    out = io.StringIO()
    writer = LogWriter(records, out)  # the default format of `setup_logging`
    when = 1_780_000_000.25
    args = ("/almanac.v1.CalendarService/GetCalendar", "OK", 1.25, "ipv4:127.0.0.1:5", "ab12")
    record = logging.LogRecord(
        "almanac.access", logging.INFO, __file__, 1,
        "%s %s %.1fms peer=%s request_id=%s", args, None,
    )  # fmt: skip
    record.created, record.msecs = when, 250.0
    records.put(record)
    records.put((when, *args))
    writer.drain()
    logged, direct = out.getvalue().splitlines()
    assert direct == logged
    assert direct.endswith(
        "INFO almanac.access /almanac.v1.CalendarService/GetCalendar OK 1.2ms"
        " peer=ipv4:127.0.0.1:5 request_id=ab12"
    )
