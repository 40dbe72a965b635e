"""The ICS interop corpus and three readers of it: Almanac, recurring-ical-events, ical.js.

The corpus is ``../shared/ics-corpus`` beside the repository (never copied
into it). A file is *valid* exactly when its ``verdict`` in the corpus'
SOURCES.md is ``valid``: that verdict comes from icalendar's own error
records and the first RFC 5545 MUST the file breaks, decided outside
Almanac, so Almanac's tests cannot move the line.

Every reader's answer is the set of instance starts ``UID|key`` over the
file's span (see `span`), cancelled instances left out (Almanac's listing
hides them). Keys: ``D:2026-03-29`` (all-day), ``F:2026-03-29T02:30:00``
(floating), ``U:2026-03-29T00:30:00Z`` (an instant).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import recurring_ical_events
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb

from connectors.ical import ParsedCalendar
from connectors.recurrence import expand, from_proto, parse_rrule

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "ics-corpus"
ICALJS = Path(__file__).resolve().parent / "icaljs_expand.mjs"
SLACK = timedelta(days=3)
_CANCELLED = ev_pb.EVENT_STATUS_CANCELLED


def corpus_dir() -> Path:
    """The corpus folder; a missing one is an error, not a reason to skip."""
    if not (CORPUS / "SOURCES.md").is_file():
        raise FileNotFoundError(
            f"the ICS corpus is missing: expected {CORPUS}/SOURCES.md (a checkout of"
            " shared/ beside the repository)"
        )
    return CORPUS


def verdicts() -> dict[str, str]:
    """File name -> verdict, from the table in SOURCES.md."""
    found: dict[str, str] = {}
    for line in (corpus_dir() / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].endswith(".ics"):
            found[cells[0]] = cells[4]
    return found


def key_of(value: date | datetime) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return f"F:{value:%Y-%m-%dT%H:%M:%S}"
        return f"U:{value.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"
    return f"D:{value:%Y-%m-%d}"


def starts_only(keys: set[str] | str) -> set[str] | str:
    """Keys without their UID: an export gives a UID to events that had none."""
    return keys if isinstance(keys, str) else {k.split("|", 1)[1] for k in keys}


def seconds_of(key: str) -> float:
    """Where a key lies, dates and floating times read in UTC."""
    text = key.split("|", 1)[-1][2:].rstrip("Z")
    moment = datetime.fromisoformat(text if "T" in text else text + "T00:00:00")
    return moment.replace(tzinfo=UTC).timestamp()


def _time_key(t: common_pb2.EventTime) -> str:
    return key_of(from_proto(t))


def _instant(t: common_pb2.EventTime) -> datetime:
    value = from_proto(t)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


@dataclass(frozen=True)
class Span:
    lo: datetime
    hi: datetime

    def keep(self, keys: Iterable[str]) -> set[str]:
        lo, hi = self.lo.timestamp(), self.hi.timestamp()
        return {k for k in keys if lo <= seconds_of(k) < hi}


def span(parsed: ParsedCalendar) -> Span:
    """From a day before the first start to a year after the last date the
    file writes (starts, ends, RDATE, EXDATE, RECURRENCE-ID, UNTIL)."""
    moments: list[datetime] = []
    for event in [*parsed.events, *parsed.exceptions]:
        times = [event.start, event.end, event.original_start]
        times += [*event.recurrence.rdates, *event.recurrence.exdates]
        moments += [_instant(t) for t in times if t.WhichOneof("value")]
        for rule in event.recurrence.rrules:
            until = parse_rrule(rule).until
            if until is not None:
                moments.append(_instant(_until_time(until)))
    if not moments:
        now = datetime(2000, 1, 1, tzinfo=UTC)
        return Span(now, now)
    return Span(min(moments) - timedelta(days=1), max(moments) + timedelta(days=366))


def _until_time(until: date | datetime) -> common_pb2.EventTime:
    out = common_pb2.EventTime()
    if isinstance(until, datetime):
        out.date_time.FromDatetime(until.replace(tzinfo=until.tzinfo or UTC).astimezone(UTC))
        return out
    out.date.year, out.date.month, out.date.day = until.year, until.month, until.day
    return out


def _uid(event: ev_pb.Event) -> str:
    # A UID Almanac made up (an event without one) is no UID to compare.
    return "" if event.ical_uid.endswith("@almanac.dev") else event.ical_uid


def almanac_starts(parsed: ParsedCalendar, window: Span) -> set[str]:
    """Instances as Almanac lists them: each series expanded by
    connectors.recurrence, its exceptions put in place (cancelled ones and
    EXDATEs removed), floating times and dates in UTC."""
    overrides: dict[tuple[str, str], ev_pb.Event] = {
        (_uid(e), _time_key(e.original_start)): e for e in parsed.exceptions
    }
    used: set[tuple[str, str]] = set()
    out: set[str] = set()
    masters = {_uid(e) for e in parsed.events}
    for event in parsed.events:
        uid = _uid(event)
        if event.recurrence_type != ev_pb.RECURRENCE_TYPE_MASTER:
            if event.status != _CANCELLED:
                out.add(f"{uid}|{_time_key(event.start)}")
            continue
        found = expand(
            event.start,
            event.end,
            event.recurrence,
            window_start=window.lo - SLACK,
            window_end=window.hi + SLACK,
            floating_zone=UTC,
        ).occurrences
        for occurrence in found:
            original = key_of(occurrence.original_start)
            override = overrides.get((uid, original))
            if override is None:
                if event.status != _CANCELLED:
                    out.add(f"{uid}|{original}")
                continue
            used.add((uid, original))
            if override.status != _CANCELLED:
                out.add(f"{uid}|{_time_key(override.start)}")
    for ident, exception in overrides.items():
        if ident not in used and ident[0] not in masters:
            if exception.status != _CANCELLED:  # an instance without its series
                out.add(f"{ident[0]}|{_time_key(exception.start)}")
    return window.keep(out)


def rie_starts(data: bytes, window: Span) -> set[str]:
    """Instances as recurring-ical-events lists them."""
    calendar = icalendar.Calendar.from_ical(data)
    out: set[str] = set()
    for component in recurring_ical_events.of(calendar).between(
        window.lo - SLACK, window.hi + SLACK
    ):
        if str(component.get("STATUS", "")).upper() == "CANCELLED":
            continue
        out.add(f"{component.get('UID', '')}|{key_of(component['DTSTART'].dt)}")
    return window.keep(out)


def icaljs_starts(documents: dict[str, tuple[bytes, Span]]) -> dict[str, set[str] | str]:
    """Instances as ical.js lists them, one node process for all documents:
    a set of keys, or the error text."""
    node = shutil.which("node")
    if node is None:
        raise FileNotFoundError("node is needed to run ical.js (npm ci installs ical.js)")
    batch = [
        {
            "id": name,
            "ics": data.decode("utf-8", "replace"),
            "lo": window.lo.timestamp(),
            "hi": window.hi.timestamp(),
        }
        for name, (data, window) in documents.items()
    ]
    done = subprocess.run(
        [node, str(ICALJS)],
        input=json.dumps(batch),
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        timeout=600,
    )
    answers: dict[str, Any] = json.loads(done.stdout)
    out: dict[str, set[str] | str] = {}
    for name, (_, window) in documents.items():
        answer = answers[name]
        out[name] = window.keep(answer["starts"]) if "starts" in answer else str(answer["error"])
    return out
