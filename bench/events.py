"""A 10,000-event calendar in Almanac and in a real Radicale (CalDAV) server.

The same seeded events (`bench.eventdata`: 9,000 single events across a year,
1,000 weekly series) go into both servers, then:

- a one-month query with series expanded into instances: Almanac
  ``ListEvents`` (every page) against Radicale's ``calendar-query`` REPORT
  with ``<C:expand>`` (and, for scale, without it): p50/p95 and the ratio;
- writes into the full calendar: Almanac ``CreateEvent`` events/s at a few
  concurrency levels against Radicale's per-event ``PUT``.

Radicale runs first (bulk-loaded by one PUT of the whole collection), then is
stopped, then the Almanac calendar and event services start on a fresh store.
Almanac's half runs in a child process (`bench.eventclient`). Without an
``event`` service in the catalog, only the Radicale numbers are printed.
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import eventdata
from bench.proc import ProcessGroup
from bench.radicale import Radicale, start_radicale
from bench.report import progress, table
from bench.scenarios import Goal, RunConfig, scenario
from bench.servers import Store, start_service

__all__ = ["run"]

PARENT = "accounts/default/calendars/primary"
COLLECTION = "/bench/events/"
GOAL_LIST_RATIO = 50.0
GOAL_CREATE_RATIO = 300.0
CREATE_LEVELS = (1, 16)
LOAD_CONCURRENCY = 32


@dataclass(frozen=True)
class _Reps:
    """How often to repeat each measurement (Radicale's expanded REPORT takes seconds)."""

    list_almanac: int
    report_expand: int
    report_plain: int
    radicale_puts: int
    create_window_s: float
    warmup_s: float

    @classmethod
    def of(cls, cfg: RunConfig) -> _Reps:
        if cfg.quick:
            return cls(5, 1, 2, 8, cfg.window_s, cfg.warmup_s)
        return cls(15, 3, 5, 15, cfg.window_s, cfg.warmup_s)


@dataclass(frozen=True)
class _Expected:
    instances: int  # in [month start, month end), as RFC 4791 defines a time-range
    at_end: int  # series instances starting exactly at the month's end

    def radicale_note(self, got: int) -> str:
        """Why Radicale's count differs, when the difference is its inclusive range end."""
        if got == self.instances + self.at_end and self.at_end:
            return (
                f" = {self.instances:,} expected + {self.at_end} series instances that start"
                " exactly at the month's end:\n  Radicale 3.9's expand treats the range end as"
                " inclusive for series instances (not for single events)"
            )
        return ""


@dataclass
class _RadicaleResult:
    load_s: float
    objects_loaded: int
    expand_s: list[float] = field(default_factory=list)
    plain_s: list[float] = field(default_factory=list)
    instances: int = 0  # VEVENTs in the expanded answer
    objects: int = 0  # calendar objects (responses) matching the month
    expand_bytes: int = 0
    put_s: list[float] = field(default_factory=list)


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (with 3 samples p95 is the slowest)."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def _month_label() -> str:
    return f"{eventdata.MONTH_START:%Y-%m} (UTC)"


@scenario("events", "10,000-event calendar: month ListEvents and CreateEvent vs Radicale")
def run(cfg: RunConfig) -> list[Goal]:
    reps = _Reps.of(cfg)
    specs = eventdata.generate()
    expected = _Expected(eventdata.expected_instances(specs), eventdata.series_starting_at(specs))
    _describe(specs, expected.instances)
    with (
        tempfile.TemporaryDirectory(prefix="almanac-bench-events-") as tmp,
        ProcessGroup(Path(tmp)) as group,
    ):
        workdir = Path(tmp)
        progress("building the ICS document")
        ics = eventdata.ics_document(specs, "bench")
        ics_path = workdir / "calendar.ics"
        ics_path.write_bytes(ics)
        rad = _radicale_half(group, workdir, ics, len(specs), reps)
        _print_radicale(rad, expected)
        almanac = _almanac_half(group, workdir, ics_path, reps)
    return _report(rad, almanac, expected, reps)


def _describe(specs: list[eventdata.EventSpec], expected: int) -> None:
    series = [s for s in specs if s.rrule]
    counted = sum(1 for s in series if "COUNT=" in s.rrule)
    print(
        f"Calendar: {len(specs):,} events: {len(specs) - len(series):,} single"
        f" ({sum(1 for s in specs if s.all_day and not s.rrule)} all-day) and {len(series):,}"
        f" weekly series ({counted} with COUNT, {len(series) - counted} endless,"
        f" {sum(1 for s in series if s.exdates)} with EXDATE,"
        f" {sum(1 for s in series if s.all_day)} all-day),\n"
        f"seed {eventdata.SEED}, year {eventdata.YEAR}, zones"
        f" {', '.join(z for z, _ in eventdata.ZONES)}."
        f" Month queried: {_month_label()}: {expected:,} instances expected."
    )


# ------------------------------------------------------------------- Radicale


def _radicale_half(
    group: ProcessGroup, workdir: Path, ics: bytes, n_events: int, reps: _Reps
) -> _RadicaleResult:
    lo, hi = eventdata.MONTH_START, eventdata.MONTH_END
    progress("starting Radicale")
    server = start_radicale(group, workdir)
    try:
        server.mkcalendar(COLLECTION, "bench")
        progress(f"Radicale: one PUT of the whole collection ({len(ics) / 1e6:.1f} MB)")
        load_s = server.put_collection(COLLECTION, ics)
        loaded = server.count_objects(COLLECTION)
        if loaded != n_events:
            print(f"WARNING: Radicale holds {loaded:,} calendar objects, not {n_events:,}")
        rad = _RadicaleResult(load_s, loaded)
        server.calendar_query(COLLECTION, lo, hi, expand=False)  # warm-up, untimed
        for i in range(reps.report_plain):
            r = server.calendar_query(COLLECTION, lo, hi, expand=False)
            rad.plain_s.append(r.seconds)
            rad.objects = r.objects
            progress(f"Radicale REPORT {i + 1}/{reps.report_plain}: {r.seconds:.2f} s")
        for i in range(reps.report_expand):
            progress(f"Radicale REPORT with expand {i + 1}/{reps.report_expand} (slow)")
            r = server.calendar_query(COLLECTION, lo, hi, expand=True)
            rad.expand_s.append(r.seconds)
            rad.instances, rad.expand_bytes = r.vevents, r.body_bytes
            progress(f"  {r.seconds:.2f} s, {r.vevents:,} instances")
        _radicale_puts(server, rad, reps)
    finally:
        server.close()
        # Stopped before Almanac runs: only one server is busy at a time.
        server.child.popen.terminate()
        server.child.popen.wait(10)
    return rad


def _radicale_puts(server: Radicale, rad: _RadicaleResult, reps: _Reps) -> None:
    # One untimed PUT first, as Almanac's create runs get a warm-up.
    for i in range(reps.radicale_puts + 1):
        spec = eventdata.extra_event(i)
        seconds = server.put_event(COLLECTION, spec.event_id, eventdata.ics_document([spec]))
        if i:
            rad.put_s.append(seconds)
    progress(f"Radicale PUT: {len(rad.put_s) / sum(rad.put_s):.2f} events/s")


def _print_radicale(rad: _RadicaleResult, expected: _Expected) -> None:
    put_rate = len(rad.put_s) / sum(rad.put_s)
    print(
        f"\nRadicale: loaded {rad.objects_loaded:,} objects by one PUT of the collection in"
        f" {rad.load_s:.1f} s.\n"
        f"  month REPORT, expand:    p50 {statistics.median(rad.expand_s):.2f} s,"
        f" p95 {_pct(rad.expand_s, 0.95):.2f} s ({len(rad.expand_s)} runs,"
        f" {rad.instances:,} instances, {rad.expand_bytes / 1e6:.1f} MB)\n"
        f"  month REPORT, no expand: p50 {statistics.median(rad.plain_s):.2f} s,"
        f" p95 {_pct(rad.plain_s, 0.95):.2f} s ({len(rad.plain_s)} runs,"
        f" {rad.objects:,} calendar objects)\n"
        f"  PUT of one event:        {put_rate:.2f} events/s, p50"
        f" {statistics.median(rad.put_s) * 1e3:.0f} ms ({len(rad.put_s)} sequential PUTs)"
    )
    note = expected.radicale_note(rad.instances)
    if note:
        print(f"  Radicale's {rad.instances:,} instances{note}.")
    elif rad.instances != expected.instances:
        print(
            f"WARNING: Radicale returned {rad.instances:,} instances for {_month_label()},"
            f" expected {expected.instances:,}"
        )


# -------------------------------------------------------------------- Almanac


def _almanac_half(
    group: ProcessGroup, workdir: Path, ics_path: Path, reps: _Reps
) -> dict[str, Any] | None:
    from services.catalog import CATALOG

    if "event" not in CATALOG:
        print(
            "\nevent service not available: this build's services.catalog has no 'event'"
            " entry;\nskipping the Almanac side (Radicale numbers above)."
        )
        return None
    store = Store.fresh(workdir)
    progress("starting Almanac calendar + event services")
    # One after another on the shared store: the first migrates it.
    calendar = start_service(group, "calendar", store) if "calendar" in CATALOG else None
    events = start_service(group, "event", store)
    spec = {
        "event_target": events.address,
        "calendar_target": calendar.address if calendar else "",
        "token": store.token,
        "parent": PARENT,
        "ics_path": str(ics_path),
        "seed": eventdata.SEED,
        "n_events": eventdata.N_EVENTS,
        "month_start": eventdata.MONTH_START.isoformat(),
        "month_end": eventdata.MONTH_END.isoformat(),
        "list_repeat": reps.list_almanac,
        "create_levels": list(CREATE_LEVELS),
        "warmup_s": reps.warmup_s,
        "window_s": reps.create_window_s,
        "load_concurrency": LOAD_CONCURRENCY,
    }
    budget = 600.0 + len(CREATE_LEVELS) * (reps.warmup_s + reps.create_window_s)
    progress("Almanac: load, month ListEvents, CreateEvent (bench.eventclient)")
    t0 = time.monotonic()
    result = group.run_json("eventclient", ["-m", "bench.eventclient"], spec, budget)
    progress(f"Almanac half took {time.monotonic() - t0:.0f} s")
    return result


# --------------------------------------------------------------------- report


def _report(
    rad: _RadicaleResult, almanac: dict[str, Any] | None, expected: _Expected, reps: _Reps
) -> list[Goal]:
    rad_expand_p50 = statistics.median(rad.expand_s)
    rad_plain_p50 = statistics.median(rad.plain_s)
    put_rate = len(rad.put_s) / sum(rad.put_s)
    if almanac is None:
        print("\n(no goal check: the Almanac side did not run)")
        return []

    load = almanac["load"]
    how = load["method"]
    if how == "CreateEvent":
        how += f" x {load['created']:,} at C={LOAD_CONCURRENCY}"
        how += f" (ImportCalendar: {almanac.get('import_error', '?')})"
    else:
        how += f" (created {load['created']:,}, exceptions {load['exceptions']:,})"
    print(f"\nAlmanac: loaded by {how} in {load['seconds']:.1f} s (not a goal).")

    lst = almanac["list"]
    list_s = lst["seconds"]
    list_p50, list_p95 = statistics.median(list_s), _pct(list_s, 0.95)
    rows = [
        [
            "Almanac ListEvents, instances",
            str(len(list_s)),
            f"{list_p50 * 1e3:,.1f}",
            f"{list_p95 * 1e3:,.1f}",
            f"{lst['instances']:,}",
            "1.0",
        ],
        [
            "Radicale REPORT, expand",
            str(len(rad.expand_s)),
            f"{rad_expand_p50 * 1e3:,.1f}",
            f"{_pct(rad.expand_s, 0.95) * 1e3:,.1f}",
            f"{rad.instances:,}",
            f"{rad_expand_p50 / list_p50:,.1f}",
        ],
        [
            "Radicale REPORT, no expand",
            str(len(rad.plain_s)),
            f"{rad_plain_p50 * 1e3:,.1f}",
            f"{_pct(rad.plain_s, 0.95) * 1e3:,.1f}",
            f"({rad.objects:,} obj.)",
            f"{rad_plain_p50 / list_p50:,.1f}",
        ],
    ]
    print(
        f"\nOne-month query, {_month_label()}, series expanded; Almanac: page_size 1000,"
        f" {lst['pages']} pages per run.\n"
        "x Almanac: that row's p50 / Almanac's p50 (how many times faster Almanac is).\n"
    )
    print(table(["query", "runs", "p50 ms", "p95 ms", "instances", "x Almanac"], rows))
    counts = (
        f"expected {expected.instances:,}, Almanac {lst['instances']:,}, Radicale {rad.instances:,}"
    )
    if len(lst["instances_seen"]) > 1:
        print(f"WARNING: Almanac's instance count changed between runs: {lst['instances_seen']}")
    radicale_ok = rad.instances == expected.instances or expected.radicale_note(rad.instances)
    if lst["instances"] != expected.instances or not radicale_ok:
        print(f"WARNING: instance counts differ: {counts}")
    else:
        print(f"Instance counts: {counts} (Radicale's extra: see above).")
    if lst["total_size"] and lst["total_size"] != lst["instances"]:
        print(
            f"WARNING: ListEvents total_size {lst['total_size']:,} != {lst['instances']:,}"
            " instances returned"
        )

    create_rows = []
    for c in almanac["create"]:
        create_rows.append(
            [
                "Almanac CreateEvent",
                str(c["concurrency"]),
                f"{c['rate']:,.0f}",
                f"{c['p50_ms']:.1f}",
                f"{c['rate'] / put_rate:,.0f}",
            ]
        )
    create_rows.append(
        [
            "Radicale PUT /{uid}.ics",
            "1",
            f"{put_rate:.2f}",
            f"{statistics.median(rad.put_s) * 1e3:.0f}",
            "1",
        ]
    )
    print(
        f"\nWrites into the {eventdata.N_EVENTS:,}-event calendar: Almanac {reps.warmup_s:g} s"
        f" warm-up + {reps.create_window_s:g} s per C;\nRadicale {len(rad.put_s)} sequential PUTs"
        " after one warm-up (its storage lock serialises writes anyway).\n"
    )
    print(table(["writer", "C", "events/s", "p50 ms", "x Radicale"], create_rows))

    list_ratio = rad_expand_p50 / list_p50
    best = max(almanac["create"], key=lambda c: c["rate"])
    create_ratio = best["rate"] / put_rate
    goals = [
        Goal(
            f"events: month ListEvents p50 >= {GOAL_LIST_RATIO:g} x faster than Radicale expand",
            list_ratio >= GOAL_LIST_RATIO,
            f"{list_ratio:,.1f} x: {list_p50 * 1e3:,.1f} ms vs {rad_expand_p50:.2f} s",
        ),
        Goal(
            f"events: CreateEvent >= {GOAL_CREATE_RATIO:g} x Radicale per-event PUT",
            create_ratio >= GOAL_CREATE_RATIO,
            f"{create_ratio:,.0f} x: {best['rate']:,.0f}/s at C={best['concurrency']}"
            f" vs {put_rate:.2f}/s",
        ),
    ]
    print()
    for goal in goals:
        print(f"Goal: {goal.text}: {goal.verdict} ({goal.detail})")
    return goals
