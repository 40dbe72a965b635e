"""Meeting time and one room: 5 people and 50 rooms, 1,000 then 10,000 events each.

The events come from `bench.availdata` (the same generator as the
``availability`` scenario, 30 days, seeded): three seeds give 60 calendars,
the first 5 are the people (working hours 08:00-18:00 local, Monday-Friday)
and 50 are rooms of mixed capacity (2 to 20 people, half with a projector),
each created with ``CreateResource`` and filled with one ``ImportCalendar``
into its own calendar. Every plan keeps its seed's shared free block free;
the rooms of other seeds are busy at other times, so rooms really are
filtered per slot.

Query: the 5 people required, a 60-minute meeting on 15-minute slots over the
30-day window, ``max_results`` 1000, plus one room holding at least 6 people
(about two thirds of the rooms qualify). Latency is the client's wall time.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench import availdata
from bench.availability import ACCOUNT, SERVICE_ENV, _us
from bench.proc import ProcessGroup
from bench.procfs import cpu_seconds
from bench.report import progress, table
from bench.scenarios import Goal, RunConfig, scenario
from bench.servers import Store, start_service

__all__ = ["run"]

SIZES = (1_000, 10_000)
PEOPLE = 5
ROOMS = 50
MIN_CAPACITY = 6
GOAL_P50_MS = 150.0


def _capacity(i: int) -> int:
    return (2, 4, 6, 8, 10, 12, 14, 16, 18, 20)[i % 10]


@scenario("rooms", "QueryAvailability with a room: 5 people + 50 rooms x 1,000 / 10,000 events")
def run(cfg: RunConfig) -> list[Goal]:
    repeat = {SIZES[0]: 7 if cfg.quick else 20, SIZES[1]: 3 if cfg.quick else 10}
    print(__doc__.split("\n\n", 1)[1].strip())
    with tempfile.TemporaryDirectory(prefix="almanac-bench-rooms-") as tmp:
        phases = [_phase(Path(tmp), n, repeat[n]) for n in SIZES]
    return _report(phases)


def _phase(tmp: Path, n_events: int, repeat: int) -> dict[str, Any]:
    workdir = tmp / f"{n_events}"
    workdir.mkdir()
    progress(f"{n_events:,} events per person and room: generating")
    plans = [p for seed in range(3) for p in availdata.generate(n_events, availdata.SEED + seed)]
    people, rooms = [], []
    for i, plan in enumerate(plans[: PEOPLE + ROOMS]):
        path = workdir / f"c{i:02d}.ics"
        path.write_bytes(availdata.ics_document(plan))
        if i < PEOPLE:
            people.append({"id": f"person-{i}", "zone": plan.zone, "ics_path": str(path)})
        else:
            k = i - PEOPLE
            features = ["projector"] if k % 2 else []
            rooms.append({"id": f"room-{k:02d}", "capacity": _capacity(k), "features": features,
                          "ics_path": str(path)})  # fmt: skip
    with ProcessGroup(workdir, SERVICE_ENV) as group:
        store = Store.fresh(workdir)
        progress("starting the calendar, resource and availability services")
        calendar = start_service(group, "calendar", store)
        resource = start_service(group, "resource", store)
        availability = start_service(group, "availability", store)
        progress(f"loading {PEOPLE} people and {ROOMS} rooms x {n_events:,} events")
        load = group.run_json(
            "load", ["-m", "bench.roomclient"],
            {"mode": "load", "calendar_target": calendar.address,
             "resource_target": resource.address, "token": store.token, "account": ACCOUNT,
             "calendars": people, "rooms": rooms,
             "work_hours": [availdata.WORK_START_HOUR, availdata.WORK_END_HOUR],
             "import_concurrency": 2},
            3600.0,
        )  # fmt: skip
        progress(f"loaded in {load['import_s'] + load['rooms_s']:.1f} s; {repeat} + 1 queries")
        cpu0 = cpu_seconds(availability.pid)
        query = group.run_json(
            "query", ["-m", "bench.roomclient"],
            {"mode": "query", "availability_target": availability.address,
             "token": store.token, "account": ACCOUNT,
             "participants": [{"calendar": name, "label": plans[i].owner}
                              for i, name in enumerate(load["names"])],
             "window": [_us(availdata.WINDOW_START), _us(availdata.WINDOW_END)],
             "duration_min": 60, "increment_min": 15, "max_results": 1000,
             "min_capacity": MIN_CAPACITY, "repeat": repeat},
            1200.0,
        )  # fmt: skip
        # Steadier than latency when neighbours take the CPU (warm-up included).
        cpu_ms = (cpu_seconds(availability.pid) - cpu0) / (repeat + 1) * 1e3
    p50 = statistics.median(query["seconds"]) * 1e3
    progress(f"p50 {p50:,.1f} ms, {query['slots']} slots")
    return {"n": n_events, "p50": p50, "cpu_ms": cpu_ms, "load": load, "query": query}


def _report(phases: list[dict[str, Any]]) -> list[Goal]:
    headers = ["events each", "room events", "load s", "runs", "p50 ms", "max ms", "srv CPU ms/q",
               "slots",
               "rooms/slot", "all slots roomed"]  # fmt: skip
    rows = [
        [f"{ph['n']:,}", f"{ph['load']['room_events']:,}",
         f"{ph['load']['import_s'] + ph['load']['rooms_s']:.0f}", str(len(ph["query"]["seconds"])),
         f"{ph['p50']:,.1f}", f"{max(ph['query']['seconds']) * 1e3:,.1f}", f"{ph['cpu_ms']:,.0f}",
         str(ph["query"]["slots"]), f"{ph['query']['rooms_per_slot']:.1f}",
         str(ph["query"]["every_slot_has_a_room"] and ph["query"]["agreed"])]
        for ph in phases
    ]  # fmt: skip
    print()
    print(table(headers, rows))
    small, large = phases
    ratio = large["p50"] / small["p50"]
    print(f"\np50 ratio at 10 x the events: {ratio:.1f} x")
    goals = [
        Goal(
            f"rooms: p50 <= {GOAL_P50_MS:g} ms, {PEOPLE} people + {ROOMS} rooms x"
            f" {small['n']:,} events",
            small["p50"] <= GOAL_P50_MS,
            f"{small['p50']:,.1f} ms",
        ),
        Goal(
            "rooms: every slot names a free room, the same answer each time",
            all(ph["query"]["every_slot_has_a_room"] and ph["query"]["agreed"] for ph in phases),
            f"{small['query']['slots']} and {large['query']['slots']} slots",
        ),
    ]
    print()
    for goal in goals:
        print(f"Goal: {goal.text}: {goal.verdict} ({goal.detail})")
    return goals
