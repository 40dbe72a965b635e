"""QueryAvailability over 20 busy calendars: 1,000 and then 10,000 events each.

The data (`bench.availdata`): 20 calendars in four zones (Europe/Berlin,
America/New_York, Europe/London, America/Sao_Paulo), each with a working-hours
schedule of 08:00-18:00 local, Monday-Friday, and ``n`` seeded events inside
one 30-day window (90% single, 10% daily/weekday/weekly series, some
transparent, cancelled, declined or tentative), with a shared 90-minute free
block on every weekday so that the 20 participants can meet at all.

For each size, on a fresh SQLite store, the calendar and availability
services start; a client process (`bench.availclient`) creates the calendars
and schedules and imports each calendar's ICS with one ``ImportCalendar``
(two in flight); then it times ``QueryAvailability`` with the 20 calendars as
required participants (label: the owner's email, so declined events free the
time), ``meeting_duration`` 60 min, ``time_slot_increment`` 15 min, one
30-day window, ``max_results`` 1000: one untimed call, then sequential timed
ones (20 for 1,000 events, 10 for 10,000, whose load of 200,000 events alone
takes a minute or more; ``--quick``: 7 and 4); latency is the client's wall
time of each call.

The slot count is checked against `availdata.expected_slots`, computed from
the generated events alone. The server's CPU time per query (from /proc,
including gRPC's threads) is printed next to the latencies: it is steadier
than wall time when a neighbour takes the CPU.
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import availdata
from bench.proc import ProcessGroup
from bench.procfs import cpu_seconds
from bench.report import mib, progress, table
from bench.scenarios import Goal, RunConfig, scenario
from bench.servers import Store, start_service

__all__ = ["run"]

ACCOUNT = "accounts/default"
SIZES = (1_000, 10_000)
DURATION_MIN = 60
INCREMENT_MIN = 15
MAX_RESULTS = 1000
GOAL_P50_MS = 50.0
GOAL_SCALE = 8.0  # p50(10x the events) / p50
# Two imports in flight: the service parses one document while its writer
# thread stores the other (writes stay serialized).
IMPORT_CONCURRENCY = 2
# The calendar service accepts 4 MiB requests by default; the contract allows
# ImportCalendar 16 MiB (a 10,000-event calendar here is about 2 MB).
SERVICE_ENV = {"ALMANAC_MAX_RECEIVE_MESSAGE_BYTES": str(16 << 20)}


@dataclass(frozen=True)
class _Plan:
    """Timed queries per size: a 10,000-event query takes seconds and its load minutes."""

    repeat: dict[int, int]

    @classmethod
    def of(cls, cfg: RunConfig) -> _Plan:
        if cfg.quick:
            return cls({SIZES[0]: 7, SIZES[1]: 4})
        return cls({SIZES[0]: 20, SIZES[1]: 10})


@dataclass(frozen=True)
class _Phase:
    n_events: int
    calendars: int
    series: int
    blocks: int  # busy occurrences in all calendars
    free_in_gaps: int  # transparent, cancelled or declined events touching the free blocks
    ics_bytes: int
    generate_s: float
    expected: availdata.Expected
    load: dict[str, Any]
    query: dict[str, Any]
    server_cpu_s: float  # the availability service's CPU over all calls (warm-up included)

    @property
    def seconds(self) -> list[float]:
        values: list[float] = self.query["seconds"]
        return values

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.seconds) * 1e3

    @property
    def p95_ms(self) -> float:
        return _pct(self.seconds, 0.95) * 1e3

    @property
    def cpu_ms_per_query(self) -> float:
        return self.server_cpu_s / (len(self.seconds) + 1) * 1e3

    @property
    def cpu_us_per_block(self) -> float:
        return self.cpu_ms_per_query * 1e3 / self.blocks

    @property
    def slots_ok(self) -> bool:
        q = self.query
        return bool(
            q["slots"] == self.expected.slots
            and q["truncated"] == self.expected.truncated
            and q["first"] == self.expected.first
            and q["last"] == self.expected.last
        )


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (with 20 samples p95 is the second slowest)."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


@scenario("availability", "QueryAvailability: 20 participants x 1,000 / 10,000 events, 30 days")
def run(cfg: RunConfig) -> list[Goal]:
    plan = _Plan.of(cfg)
    _describe()
    with tempfile.TemporaryDirectory(prefix="almanac-bench-availability-") as tmp:
        phases = [_phase(Path(tmp), n, plan) for n in SIZES]
    return _report(phases)


def _describe() -> None:
    lo, hi = availdata.WINDOW_START, availdata.WINDOW_END
    print(
        f"{availdata.N_CALENDARS} calendars in turn in {', '.join(availdata.ZONES)},\n"
        f"each with working hours {availdata.WORK_START_HOUR:02d}:00-"
        f"{availdata.WORK_END_HOUR:02d}:00 local, Mon-Fri. Events in {lo:%Y-%m-%d} .."
        f" {hi:%Y-%m-%d} UTC\n({availdata.DAYS} days, both 2027 spring DST changes),"
        f" seed {availdata.SEED}: 90% single 15-120 min, 10% series (daily or\n"
        "Mon-Fri with COUNT, weekly with UNTIL); 5% transparent, 2% cancelled, 2% declined by"
        " the owner,\n5% tentative. A shared 90-minute free block every weekday"
        " (within 13:00-16:00 UTC) keeps\na meeting possible: the busy events avoid it,"
        " the non-blocking ones may not.\n"
        f"Query: all {availdata.N_CALENDARS} calendars as required participants,"
        f" {DURATION_MIN}-min meetings on {INCREMENT_MIN}-min slots,\none"
        f" {availdata.DAYS}-day window, max_results {MAX_RESULTS}, working hours applied."
    )


def _phase(tmp: Path, n_events: int, plan: _Plan) -> _Phase:
    workdir = tmp / f"{n_events}"
    workdir.mkdir()
    progress(f"{n_events:,} events per calendar: generating")
    t0 = time.perf_counter()
    plans = availdata.generate(n_events)
    expected = availdata.expected_slots(plans, DURATION_MIN, INCREMENT_MIN, MAX_RESULTS)
    calendars = []
    ics_bytes = 0
    for p in plans:
        path = workdir / f"{p.calendar_id}.ics"
        data = availdata.ics_document(p)
        path.write_bytes(data)
        ics_bytes += len(data)
        calendars.append({"id": p.calendar_id, "zone": p.zone, "ics_path": str(path)})
    generate_s = time.perf_counter() - t0
    with ProcessGroup(workdir, SERVICE_ENV) as group:
        store = Store.fresh(workdir)
        progress("starting the calendar and availability services")
        # One after another on the fresh store: the first migrates it.
        calendar = start_service(group, "calendar", store)
        availability = start_service(group, "availability", store)
        progress(f"loading {len(plans)} x {n_events:,} events (ImportCalendar per calendar)")
        load = group.run_json(
            "load",
            ["-m", "bench.availclient"],
            {
                "mode": "load",
                "calendar_target": calendar.address,
                "token": store.token,
                "account": ACCOUNT,
                "calendars": calendars,
                "work_hours": [availdata.WORK_START_HOUR, availdata.WORK_END_HOUR],
                "import_concurrency": IMPORT_CONCURRENCY,
            },
            1800.0,
        )
        repeat = plan.repeat[n_events]
        progress(f"loaded in {load['import_s']:.1f} s; {repeat} + 1 queries")
        cpu0 = cpu_seconds(availability.pid)
        query = group.run_json(
            "query",
            ["-m", "bench.availclient"],
            {
                "mode": "query",
                "availability_target": availability.address,
                "token": store.token,
                "participants": [
                    {"calendar": name, "label": p.owner}
                    for name, p in zip(load["names"], plans, strict=True)
                ],
                "window": [_us(availdata.WINDOW_START), _us(availdata.WINDOW_END)],
                "duration_min": DURATION_MIN,
                "increment_min": INCREMENT_MIN,
                "max_results": MAX_RESULTS,
                "repeat": repeat,
            },
            600.0,
        )
        server_cpu_s = cpu_seconds(availability.pid) - cpu0
    phase = _Phase(
        n_events=n_events,
        calendars=len(plans),
        series=sum(p.series for p in plans),
        blocks=sum(p.blocks for p in plans),
        free_in_gaps=sum(p.free_in_gaps for p in plans),
        ics_bytes=ics_bytes,
        generate_s=generate_s,
        expected=expected,
        load=load,
        query=query,
        server_cpu_s=server_cpu_s,
    )
    progress(f"p50 {phase.p50_ms:,.1f} ms, {query['slots']} slots")
    return phase


def _us(moment: datetime) -> int:
    return round((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1e6)


def _when(us: int) -> str:
    if not us:
        return "-"
    return f"{datetime.fromtimestamp(us / 1e6, UTC):%m-%d %H:%M}"


def _report(phases: list[_Phase]) -> list[Goal]:
    headers = ["events/cal", "busy blocks", "import s", "runs", "p50 ms", "p95 ms", "min ms",
               "srv CPU ms/q", "us/block", "slots (expected)"]  # fmt: skip
    rows = [
        [
            f"{ph.n_events:,}",
            f"{ph.blocks:,}",
            f"{ph.load['import_s']:.1f}",
            str(len(ph.seconds)),
            f"{ph.p50_ms:,.1f}",
            f"{ph.p95_ms:,.1f}",
            f"{min(ph.seconds) * 1e3:,.1f}",
            f"{ph.cpu_ms_per_query:,.0f}",
            f"{ph.cpu_us_per_block:.1f}",
            f"{ph.query['slots']} ({ph.expected.slots})",
        ]
        for ph in phases
    ]
    print(
        f"\nEach row: a fresh store, {phases[0].calendars} calendars; 'runs' sequential timed"
        " queries after one untimed;\n"
        "the timed queries repeat one question on unchanged data, so they are answered from the"
        " busy-time\ncache (checked against the account's activity cursor); the warm-up below is"
        " the uncached cost;\n"
        "p95: nearest rank (below 20 runs, the slowest). busy blocks: occurrences that block"
        " time (series\n"
        "expanded), all calendars together. import s: wall time of the ImportCalendar calls,"
        f" one per\ncalendar, {IMPORT_CONCURRENCY} in flight (not a goal)."
        " srv CPU ms/q: the availability service's CPU time\n"
        "per query, all threads, warm-up included (steadier than latency on a busy machine);\n"
        "us/block: that per busy block.\n"
    )
    print(table(headers, rows))
    print()
    for ph in phases:
        imports = ph.load["imports"]
        print(
            f"{ph.n_events:,}/calendar: {ph.series:,} series; {ph.free_in_gaps:,} non-blocking"
            f" events in the free blocks;\n  generated in {ph.generate_s:.1f} s, ICS"
            f" {mib(ph.ics_bytes)} MiB, imports {min(i['seconds'] for i in imports):.1f}-"
            f"{max(i['seconds'] for i in imports):.1f} s each; queries: warm-up"
            f" {ph.query['warmup_s'] * 1e3:,.0f} ms, max {max(ph.seconds) * 1e3:,.0f} ms;\n"
            f"  slots {_when(ph.query['first'])} .. {_when(ph.query['last'])} UTC,"
            f" {ph.query['response_bytes']:,} B per answer"
        )
        created = sum(i["created"] for i in imports)
        if created != ph.calendars * ph.n_events:
            print(f"WARNING: imported {created:,} events, not {ph.calendars * ph.n_events:,}")
        if not ph.slots_ok:
            e = ph.expected
            print(
                f"WARNING: {ph.query['slots']} slots ({_when(ph.query['first'])} .."
                f" {_when(ph.query['last'])}, truncated {ph.query['truncated']}), expected"
                f" {e.slots} ({_when(e.first)} .. {_when(e.last)}, truncated {e.truncated})"
            )
        if not ph.query["agreed"]:
            print(f"WARNING: the {ph.n_events:,}-event answers differed between calls")
    small, large = phases
    ratio = large.p50_ms / small.p50_ms
    scale = large.n_events // small.n_events
    cpu_ratio = large.cpu_ms_per_query / small.cpu_ms_per_query
    print(f"\np50 ratio {ratio:.1f} x (server CPU per query: {cpu_ratio:.1f} x)")
    goals = [
        Goal(
            f"availability: p50 <= {GOAL_P50_MS:g} ms, 20 participants x {small.n_events:,} events",
            small.p50_ms <= GOAL_P50_MS,
            f"{small.p50_ms:,.1f} ms",
        ),
        Goal(
            f"availability: {scale} x the events costs <= {GOAL_SCALE:g} x the time (p50)",
            ratio <= GOAL_SCALE,
            f"{ratio:.1f} x: {large.p50_ms:,.0f} ms vs {small.p50_ms:,.1f} ms",
        ),
    ]
    print()
    for goal in goals:
        print(f"Goal: {goal.text}: {goal.verdict} ({goal.detail})")
    return goals
