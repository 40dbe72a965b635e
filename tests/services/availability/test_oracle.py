"""QueryAvailability against a brute-force minute-grid oracle (oracle.py beside it).

Two layers over random calendars, schedules, buffers, recurrences and
windows, many of them crossing a daylight-saving change in Berlin, New York
or Sydney:

* the engine (`services.availability.engine.solve`), fed the blocks and the
  working hours the service would compute, with hundreds of examples: the
  ranges or slots, `free_optional` and `truncated`; and the explanations
  (they cover exactly the excluded minutes, each reason holds at every
  minute of its interval, and every reason holding over a whole interval is
  given);
* the real services end to end: calendars with zones, schedules and events
  (recurring, all-day, transparent, cancelled, tentative, declined) created
  through the API, then `QueryAvailability` compared with the oracle
  computed from the same inputs, with recurrences expanded by dateutil.

Schedule boundaries avoid 01:00-03:00 exclusive, the hours in which the
clocks of these zones change: there a wall-clock time is missing or happens
twice, and the contract does not say which instant a boundary there means
(the engine converts a boundary like an RFC 5545 DTSTART, so "until 02:30"
on a spring-forward day lasts until 03:30 summer time, where the minute
reading would end at 02:00 winter time). Event starts avoid those hours for
the same reason.

AVAILABILITY_EXAMPLES=N multiplies the number of examples for a deeper run.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from almanac.v1 import availability_service_pb2 as av_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import event_service_pb2 as ev_pb
from dateutil import rrule
from google.type import date_pb2
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from services.availability import engine
from services.availability.intervals import Interval, intersect
from services.availability.working_hours import available_intervals
from tests.helpers import Almanac, TestAccount, unique_id
from tests.services.availability import oracle
from tests.services.availability.oracle import Answer, Ask, Busy, Cal, Person, moment, transitions
from tests.services.availability.support import (
    AvailabilityClient,
    at,
    availability_fixture,  # noqa: F401  (the `availability` fixture)
    availability_processes_fixture,  # noqa: F401
    day,
    dur,
    minutes_of,
    tod,
    trange,
)

MIN_US = 60_000_000
SCALE = int(os.environ.get("AVAILABILITY_EXAMPLES", "1"))
ENGINE = settings(
    max_examples=300 * SCALE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
E2E = settings(
    max_examples=20 * SCALE,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)

DST_ZONES = ("Europe/Berlin", "America/New_York", "Australia/Sydney")
ZONES = (*DST_ZONES, "Australia/Lord_Howe", "Asia/Kolkata", "UTC")
CHANGES = [t for z in DST_ZONES for y in (2026, 2027) for t in transitions(z, y)]
# Wall-clock times a schedule boundary may take (15-minute grid, 24:00 as an
# end): none strictly between 01:00 and 03:00, where clocks change.
BOUNDARIES = [m for m in range(0, 24 * 60 + 1, 15) if not 60 < m < 180]


# --- strategies ------------------------------------------------------------------------


@st.composite
def schedules(draw: st.DrawFn, around: dt.date) -> cal_pb.Schedule:
    def pair() -> tuple[int, int]:
        s, e = sorted(draw(st.lists(st.sampled_from(BOUNDARIES), min_size=2, max_size=2,
                                    unique=True)))  # fmt: skip
        return s, e

    def near() -> dt.date:
        return around + dt.timedelta(days=draw(st.integers(-3, 4)))

    def gdate(d: dt.date) -> date_pb2.Date:
        return date_pb2.Date(year=d.year, month=d.month, day=d.day)

    out = cal_pb.Schedule(display_name="hours", time_zone=draw(st.sampled_from(("", *ZONES))))
    kind = draw(st.sampled_from(["workweek", "random", "random", "empty"]))
    if kind == "workweek":
        s, e = pair()
        days = draw(st.sets(st.integers(1, 7), min_size=1))
        for d in sorted(days):
            out.weekly_hours.add(day=d, start_time=tod(s), end_time=tod(e))
    elif kind == "random":
        for _ in range(draw(st.integers(1, 8))):
            s, e = pair()
            out.weekly_hours.add(day=draw(st.integers(1, 7)), start_time=tod(s), end_time=tod(e))
    for d in draw(st.sets(st.integers(-3, 4), max_size=2)):
        o = out.date_overrides.add(date=gdate(around + dt.timedelta(days=d)))
        for _ in range(draw(st.integers(0, 2))):
            s, e = pair()
            o.intervals.add(start_time=tod(s), end_time=tod(e))
    if draw(st.integers(0, 5)) == 0:
        out.start_date.CopyFrom(gdate(near()))
    if draw(st.integers(0, 5)) == 0:
        out.end_date.CopyFrom(gdate(near()))
    if out.HasField("start_date") and out.HasField("end_date"):
        a, b = out.start_date, out.end_date
        if (b.year, b.month, b.day) < (a.year, a.month, a.day):
            first, last = date_pb2.Date(), date_pb2.Date()
            first.CopyFrom(b)
            last.CopyFrom(a)
            out.start_date.CopyFrom(first)
            out.end_date.CopyFrom(last)
    out.disabled = draw(st.integers(0, 7)) == 0
    return out


@st.composite
def calendars_busy(
    draw: st.DrawFn, name: str, lo: int, hi: int, around: dt.date
) -> tuple[Cal, list[Busy]]:
    zone = draw(st.sampled_from(ZONES))
    n_schedules = draw(st.sampled_from([0, 0, 0, 1, 1, 2]))
    cal = Cal(name, zone, tuple(draw(schedules(around)) for _ in range(n_schedules)))
    busy: list[Busy] = []
    k = 0
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(lo - 240, hi + 60))
        length = draw(st.integers(1, 300))
        busy.append(Busy(start, start + length, name, f"{name}/events/e{k}"))
        k += 1
    for _ in range(draw(st.integers(0, 1))):  # a daily series at a fixed wall-clock time
        first = moment(draw(st.integers(lo - 2 * 1440, hi))).astimezone(ZoneInfo(zone))
        wall = first.replace(hour=draw(st.sampled_from([0, 4, 7, 9, 12, 16, 20, 23])),
                             minute=draw(st.sampled_from([0, 15, 30, 45])))  # fmt: skip
        length = draw(st.integers(5, 240))
        starts = rrule.rrule(rrule.DAILY, dtstart=wall, count=draw(st.integers(1, 6)))
        for j, s in enumerate(starts):
            begin = oracle.minute_of(s.astimezone(dt.UTC))
            busy.append(Busy(begin, begin + length, name, f"{name}/events/r{k}_{j}"))
        k += 1
    return cal, busy


@st.composite
def people(
    draw: st.DrawFn, prefix: str, count: int, lo: int, hi: int, around: dt.date
) -> tuple[Person, ...]:
    out = []
    for i in range(count):
        cals, busy = [], []
        for j in range(draw(st.integers(1, 2))):
            cal, blocks = draw(calendars_busy(f"accounts/a/calendars/{prefix}{i}c{j}", lo, hi,
                                              around))  # fmt: skip
            cals.append(cal)
            busy += blocks
        out.append(
            Person(
                label=f"{prefix}{i}@example.com",
                calendars=tuple(cals),
                busy=tuple(busy),
                ignore_working_hours=draw(st.integers(0, 5)) == 0,
            )
        )
    return tuple(out)


@st.composite
def windows(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    change = oracle.minute_of(draw(st.sampled_from(CHANGES)))
    cursor = change - draw(st.integers(0, 36 * 12)) * 5  # up to 36 h before a change
    out: list[tuple[int, int]] = []
    for _ in range(draw(st.integers(1, 3))):
        gap = draw(st.integers(0, 72)) * 5 if out else 0
        length = draw(st.one_of(st.integers(1, 48), st.integers(1, 36 * 12))) * 5
        out.append((cursor + gap, cursor + gap + length))
        cursor += gap + length
    shuffled = draw(st.permutations(out))  # the request's order does not matter
    return tuple(shuffled)


@st.composite
def asks(draw: st.DrawFn) -> Ask:
    wins = draw(windows())
    lo, hi = min(s for s, _ in wins), max(e for _, e in wins)
    around = moment(lo).date()
    n_required = draw(st.integers(0, 3))
    n_groups = draw(st.integers(0 if n_required else 1, 2))
    required = draw(people("p", n_required, lo, hi, around))
    groups = []
    for g in range(n_groups):
        members = draw(people(f"g{g}m", draw(st.integers(1, 3)), lo, hi, around))
        groups.append((members, draw(st.integers(1, len(members)))))
    increment = draw(st.one_of(st.just(0), st.sampled_from([15, 30, 60]), st.integers(1, 120)))
    return Ask(
        windows=wins,
        duration=draw(st.one_of(st.sampled_from([15, 30, 60, 90]), st.integers(1, 240))),
        increment=increment,
        buffer_before=draw(st.one_of(st.just(0), st.integers(0, 90))),
        buffer_after=draw(st.one_of(st.just(0), st.integers(0, 90))),
        max_results=draw(st.one_of(st.just(100), st.integers(1, 12))),
        required=required,
        groups=tuple(groups),
    )


# --- the engine's path ----------------------------------------------------------------


def engine_participant(p: Person, span: Interval) -> engine.Participant:
    """What the servicer hands the engine: blocks, and working hours of all calendars."""
    working: list[Interval] | None = None
    if not p.ignore_working_hours:
        for cal in p.calendars:
            hours = available_intervals(list(cal.schedules), cal.zone, span)
            if hours is not None:
                working = hours if working is None else intersect(working, hours)
    blocks = [engine.Block(b.start * MIN_US, b.end * MIN_US, b.calendar, b.event) for b in p.busy]
    return engine.Participant(p.label, blocks, working)


def run_engine(ask: Ask, explain: bool = False) -> engine.Result:
    wins = sorted(ask.windows)
    margin = max(ask.buffer_before, ask.buffer_after)
    span = ((wins[0][0] - margin) * MIN_US, (wins[-1][1] + margin) * MIN_US)
    return engine.solve(
        engine.Query(
            windows=[(s * MIN_US, e * MIN_US) for s, e in wins],
            duration=ask.duration * MIN_US,
            increment=ask.increment * MIN_US,
            buffer_before=ask.buffer_before * MIN_US,
            buffer_after=ask.buffer_after * MIN_US,
            max_results=ask.max_results,
            explain=explain,
            required=[engine_participant(p, span) for p in ask.required],
            groups=[([engine_participant(m, span) for m in ms], k) for ms, k in ask.groups],
        )
    )


def _minutes(us: int) -> int:
    assert us % MIN_US == 0, us
    return us // MIN_US


def engine_answer(result: engine.Result) -> Answer:
    times = [(_minutes(s.start), _minutes(s.end), tuple(s.free_optional)) for s in result.slots]
    return Answer(times, result.truncated)


def _show(answer: Answer) -> list[str]:
    return [
        f"{moment(s):%m-%d %H:%M}-{moment(e):%m-%d %H:%M} {list(f)}" for s, e, f in answer.times
    ]


def _crossing(ask: Ask) -> bool:
    return any(any(s <= oracle.minute_of(t) < e for s, e in ask.windows) for t in CHANGES)


def _describe(ask: Ask) -> None:
    event("window crosses a DST change" if _crossing(ask) else "no DST change inside")
    event("slots" if ask.increment else "free ranges")
    if ask.groups:
        event("with optional groups")


# --- engine-level properties -------------------------------------------------------------


@ENGINE
@given(asks())
def test_engine_matches_minute_oracle(ask: Ask) -> None:
    _describe(ask)
    expected = oracle.solve(ask).answer
    got = engine_answer(run_engine(ask))
    note(f"expected {_show(expected)} truncated={expected.truncated}")
    note(f"got      {_show(got)} truncated={got.truncated}")
    if expected.times:
        event("some availability")
    assert got == expected


def _exclusions(result: engine.Result) -> list[tuple[int, int, set[oracle.Reason]]]:
    return [
        (
            _minutes(x.start),
            _minutes(x.end),
            {(r.participant, r.calendar, int(r.kind), r.event) for r in x.reasons},
        )
        for x in result.exclusions
    ]


def check_exclusions_cover(
    exclusions: list[tuple[int, int, set[oracle.Reason]]], solution: oracle.Solution
) -> None:
    """The exclusions are sorted, disjoint and cover exactly the excluded minutes."""
    covered: list[tuple[int, int]] = []
    for s, e, _ in exclusions:
        assert s < e, (moment(s), moment(e))
        if covered and covered[-1][1] == s:
            covered[-1] = (covered[-1][0], e)
        else:
            assert not covered or covered[-1][1] < s, "exclusions overlap or are out of order"
            covered.append((s, e))
    assert covered == solution.excluded


def check_reasons_hold(
    exclusions: list[tuple[int, int, set[oracle.Reason]]], solution: oracle.Solution
) -> None:
    """Soundness: each reason given for an interval holds at every minute of it."""
    for s, e, reasons in exclusions:
        assert reasons, f"no reason for {moment(s)}-{moment(e)}"
        for m in range(s, e):
            wrong = reasons - solution.applies[m]
            assert not wrong, (
                f"exclusion {moment(s)}-{moment(e)} gives {sorted(wrong)}, which does not hold"
                f" at {moment(m)} (there: {sorted(solution.applies[m])})"
            )


def check_reasons_complete(
    exclusions: list[tuple[int, int, set[oracle.Reason]]], solution: oracle.Solution
) -> None:
    """Completeness: every reason that holds over a whole interval is given."""
    for s, e, reasons in exclusions:
        whole = frozenset.intersection(*(solution.applies[m] for m in range(s, e)))
        missing = whole - reasons
        assert not missing, (
            f"exclusion {moment(s)}-{moment(e)} leaves out {sorted(missing)}"
            f" (given: {sorted(reasons)})"
        )


@ENGINE
@given(asks())
def test_engine_explanations_cover_the_excluded_time_with_reasons_that_hold(ask: Ask) -> None:
    _describe(ask)
    solution = oracle.solve(ask, explain=True)
    exclusions = _exclusions(run_engine(ask, explain=True))
    check_exclusions_cover(exclusions, solution)
    check_reasons_hold(exclusions, solution)


@ENGINE
@given(asks())
def test_engine_explanations_give_every_reason_for_the_whole_interval(ask: Ask) -> None:
    """AvailabilityService contract: `Exclusion.reasons` is "every reason that
    applies to the whole interval"."""
    solution = oracle.solve(ask, explain=True)
    exclusions = _exclusions(run_engine(ask, explain=True))
    check_reasons_complete(exclusions, solution)


# --- end to end ---------------------------------------------------------------------------

# The kinds of events the end-to-end examples create.
TIMED, DAILY, WEEKLY = "timed", "daily", "weekly"
ALL_DAY, ALL_DAY_DAILY = "all-day", "all-day-daily"
STATUSES = [ev_pb.EVENT_STATUS_CONFIRMED] * 3 + [
    ev_pb.EVENT_STATUS_TENTATIVE,
    ev_pb.EVENT_STATUS_CANCELLED,
]
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True)
class EventSpec:
    kind: str
    zone: str  # the event's zone (timed kinds)
    wall: dt.datetime  # naive local start; midnight of the date for all-day kinds
    length: int  # minutes (timed) or days (all-day)
    count: int = 1
    byday: tuple[int, ...] = ()  # Python weekdays, for WEEKLY (always the start's among them)
    status: int = ev_pb.EVENT_STATUS_CONFIRMED
    transparent: bool = False
    declined: bool = False  # the participant (by label) declined
    shout: bool = False  # the attendee's email in upper case
    visibility: int = ev_pb.VISIBILITY_UNSPECIFIED


@dataclass(frozen=True)
class CalSpec:
    zone: str
    schedules: tuple[cal_pb.Schedule, ...]
    events: tuple[EventSpec, ...]


@dataclass(frozen=True)
class PersonSpec:
    account: int
    calendars: tuple[CalSpec, ...]
    ignore_working_hours: bool


@dataclass(frozen=True)
class World:
    accounts: int
    required: tuple[PersonSpec, ...]
    groups: tuple[tuple[tuple[PersonSpec, ...], int], ...]
    ask: Ask  # windows and options; people filled in once the calendars exist
    time_zone: str


@st.composite
def event_specs(draw: st.DrawFn, lo: int, hi: int) -> EventSpec:
    """An event near the windows [lo, hi) (series may start up to 3 days before)."""
    kind = draw(st.sampled_from([TIMED, TIMED, DAILY, WEEKLY, ALL_DAY, ALL_DAY_DAILY]))
    early = 5 * 60 if kind == TIMED else 3 * 1440
    near = moment(draw(st.integers(lo - early, hi - 1)))
    common: dict[str, Any] = dict(
        status=draw(st.sampled_from(STATUSES)),
        transparent=draw(st.integers(0, 5)) == 0,
        declined=draw(st.integers(0, 4)) == 0,
        shout=draw(st.booleans()),
        visibility=draw(st.sampled_from(list(ev_pb.Visibility.values()))),
    )
    if kind in (ALL_DAY, ALL_DAY_DAILY):
        date = near.date() + dt.timedelta(days=draw(st.integers(-1, 0)))
        return EventSpec(
            kind, "", dt.datetime.combine(date, dt.time()), draw(st.integers(1, 2)),
            count=draw(st.integers(2, 4)) if kind == ALL_DAY_DAILY else 1, **common,
        )  # fmt: skip
    zone = draw(st.sampled_from(ZONES))
    clock = near.astimezone(ZoneInfo(zone))
    # Starts between 05:00 and 21:45 local: never in an hour the clocks skip or repeat.
    wall = dt.datetime.combine(clock.date(), dt.time(min(max(clock.hour, 5), 21),
                                                     clock.minute // 15 * 15))  # fmt: skip
    byday: tuple[int, ...] = ()
    if kind == WEEKLY:
        byday = tuple(sorted({wall.weekday(), *draw(st.sets(st.integers(0, 6), max_size=2))}))
    return EventSpec(
        kind, zone, wall, draw(st.integers(15, 240)),
        count=draw(st.integers(2, 5)) if kind != TIMED else 1, byday=byday, **common,
    )  # fmt: skip


@st.composite
def person_specs(draw: st.DrawFn, accounts: int, lo: int, hi: int) -> PersonSpec:
    around = moment(lo).date()
    cals = []
    for _ in range(draw(st.integers(1, 2))):
        n_schedules = draw(st.sampled_from([0, 0, 1, 1, 2]))
        cals.append(
            CalSpec(
                zone=draw(st.sampled_from(ZONES)),
                schedules=tuple(draw(schedules(around)) for _ in range(n_schedules)),
                events=tuple(draw(st.lists(event_specs(lo, hi), max_size=4))),
            )
        )
    return PersonSpec(draw(st.integers(0, accounts - 1)), tuple(cals), draw(st.integers(0, 5)) == 0)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    wins = draw(windows())
    lo, hi = min(s for s, _ in wins), max(e for _, e in wins)
    accounts = draw(st.integers(1, 2))
    required = tuple(draw(person_specs(accounts, lo, hi)) for _ in range(draw(st.integers(0, 2))))
    groups = []
    for _ in range(draw(st.integers(0 if required else 1, 1))):
        size = draw(st.integers(1, 3))
        members = tuple(draw(person_specs(accounts, lo, hi)) for _ in range(size))
        groups.append((members, draw(st.integers(1, len(members)))))
    ask = Ask(
        windows=wins,
        # The service refuses a meeting longer than every window.
        duration=min(draw(st.sampled_from([15, 30, 45, 60, 90])), max(e - s for s, e in wins)),
        increment=draw(st.sampled_from([0, 0, 15, 30, 60, 25])),
        buffer_before=draw(st.sampled_from([0, 0, 10, 30])),
        buffer_after=draw(st.sampled_from([0, 0, 15, 45])),
        max_results=draw(st.sampled_from([100, 100, 3])),
    )
    return World(accounts, required, tuple(groups), ask, draw(st.sampled_from(ZONES)))


def _midnight(date: dt.date, zone: str) -> int:
    return oracle.minute_of(dt.datetime.combine(date, dt.time(), tzinfo=ZoneInfo(zone)))


def expected_busy(spec: EventSpec, cal: str, cal_zone: str, event: str) -> list[Busy]:
    """The busy time of an event, from its specification alone (dateutil for series)."""
    if spec.transparent or spec.declined or spec.status == ev_pb.EVENT_STATUS_CANCELLED:
        return []
    if spec.kind in (ALL_DAY, ALL_DAY_DAILY):
        first = spec.wall.date()
        days = [first + dt.timedelta(days=i) for i in range(spec.count)]
        return [
            Busy(_midnight(d, cal_zone), _midnight(d + dt.timedelta(days=spec.length), cal_zone),
                 cal, event)
            for d in days
        ]  # fmt: skip
    start = spec.wall.replace(tzinfo=ZoneInfo(spec.zone))
    if spec.kind == DAILY:
        starts = list(rrule.rrule(rrule.DAILY, dtstart=start, count=spec.count))
    elif spec.kind == WEEKLY:
        starts = list(
            rrule.rrule(rrule.WEEKLY, dtstart=start, count=spec.count, byweekday=spec.byday)
        )
    else:
        starts = [start]
    out = []
    for s in starts:
        m = oracle.minute_of(s.astimezone(dt.UTC))
        out.append(Busy(m, m + spec.length, cal, event))
    return out


def create_event(stub: Any, calendar: str, spec: EventSpec, label: str) -> ev_pb.Event:
    event = ev_pb.Event(
        display_name=f"{spec.kind} event",
        status=spec.status,  # type: ignore[arg-type]
        transparent=spec.transparent,
        visibility=spec.visibility,  # type: ignore[arg-type]
    )
    email = label.upper() if spec.shout else label
    # The participant's answer, and someone else's opposite one (which must not count).
    mine, theirs = ev_pb.RESPONSE_STATUS_DECLINED, ev_pb.RESPONSE_STATUS_ACCEPTED
    if not spec.declined:
        mine, theirs = theirs, mine
    event.attendees.add(email=email, response_status=mine)
    event.attendees.add(email="other@example.com", response_status=theirs)
    if spec.kind in (ALL_DAY, ALL_DAY_DAILY):
        first = spec.wall.date()
        event.start.CopyFrom(day(first))
        event.end.CopyFrom(day(first + dt.timedelta(days=spec.length)))
        if spec.kind == ALL_DAY_DAILY:
            event.recurrence.rrules.append(f"FREQ=DAILY;COUNT={spec.count}")
    else:
        start = spec.wall.replace(tzinfo=ZoneInfo(spec.zone))
        event.start.CopyFrom(at(start))
        event.end.CopyFrom(at((start.astimezone(dt.UTC) + dt.timedelta(minutes=spec.length))
                              .astimezone(ZoneInfo(spec.zone))))  # fmt: skip
        if spec.kind == DAILY:
            event.recurrence.rrules.append(f"FREQ=DAILY;COUNT={spec.count}")
        elif spec.kind == WEEKLY:
            days = ",".join(WEEKDAY_CODES[d] for d in spec.byday)
            event.recurrence.rrules.append(f"FREQ=WEEKLY;COUNT={spec.count};BYDAY={days}")
    return stub.CreateEvent(ev_pb.CreateEventRequest(parent=calendar, event=event))


def build(almanac: Almanac, world: World) -> tuple[list[TestAccount], Ask, Callable[..., Any]]:
    """Create the world through the API; the oracle's question and the request builder."""
    accounts = [
        TestAccount(almanac, almanac.create_local_account(display_name=f"Oracle {i}"))
        for i in range(world.accounts)
    ]
    calendars, events = almanac.calendars(), almanac.events()
    tag = unique_id("o")

    def person(spec: PersonSpec, label: str) -> tuple[Person, av_pb.Participant]:
        account = accounts[spec.account]
        cals, busy = [], []
        for j, cs in enumerate(spec.calendars):
            cal = account.create_calendar(f"Oracle {j}", time_zone=cs.zone)
            for schedule in cs.schedules:
                calendars.CreateSchedule(
                    cal_pb.CreateScheduleRequest(parent=cal.name, schedule=schedule)
                )
            cals.append(Cal(cal.name, cs.zone, cs.schedules))
            for es in cs.events:
                created = create_event(events, cal.name, es, label)
                busy += expected_busy(es, cal.name, cs.zone, created.name)
        oracle_person = Person(label, tuple(cals), tuple(busy), spec.ignore_working_hours)
        request = av_pb.Participant(
            calendars=[c.name for c in cals],
            label=label,
            ignore_working_hours=spec.ignore_working_hours,
        )
        return oracle_person, request

    required = [person(p, f"r{i}-{tag}@example.com") for i, p in enumerate(world.required)]
    groups = []
    for g, (members, k) in enumerate(world.groups):
        built = [person(m, f"g{g}m{i}-{tag}@example.com") for i, m in enumerate(members)]
        groups.append((built, k))
    ask = Ask(
        windows=world.ask.windows,
        duration=world.ask.duration,
        increment=world.ask.increment,
        buffer_before=world.ask.buffer_before,
        buffer_after=world.ask.buffer_after,
        max_results=world.ask.max_results,
        required=tuple(p for p, _ in required),
        groups=tuple((tuple(p for p, _ in ms), k) for ms, k in groups),
    )

    def request(**fields: Any) -> av_pb.QueryAvailabilityRequest:
        return av_pb.QueryAvailabilityRequest(
            participants=[r for _, r in required],
            groups=[
                av_pb.ParticipantGroup(participants=[r for _, r in ms], minimum_free=k)
                for ms, k in groups
            ],
            meeting_duration=dur(ask.duration),
            time_windows=[trange(s, e) for s, e in ask.windows],
            time_slot_increment=dur(ask.increment),
            buffer_before=dur(ask.buffer_before),
            buffer_after=dur(ask.buffer_after),
            max_results=0 if ask.max_results == 100 else ask.max_results,
            time_zone=world.time_zone,
            **fields,
        )

    return accounts, ask, request


def _wall(value: Any) -> tuple[int, ...]:
    return (value.year, value.month, value.day, value.hours, value.minutes, value.seconds)


@E2E
@given(worlds())
def test_query_availability_matches_minute_oracle_end_to_end(
    almanac: Almanac, availability: AvailabilityClient, world: World
) -> None:
    accounts, ask, request = build(almanac, world)
    _describe(ask)
    # A token that may read every account involved, and only that.
    token = almanac.token(["calendars:read"], [a.name for a in accounts])
    reply = availability(token).QueryAvailability(request(explain=True))
    expected = oracle.solve(ask, explain=True)
    got = Answer(
        [
            (minutes_of(t.start_time), minutes_of(t.end_time), tuple(t.free_optional))
            for t in reply.available_times
        ],
        reply.truncated,
    )
    note(f"expected {_show(expected.answer)} truncated={expected.answer.truncated}")
    note(f"got      {_show(got)} truncated={got.truncated}")
    people = [*ask.required, *(m for ms, _ in ask.groups for m in ms)]
    if any(b.start < e and b.end > s for p in people for b in p.busy for s, e in ask.windows):
        event("busy time inside the windows")
    if any(c.schedules for p in people for c in p.calendars):
        event("with schedules")
    if expected.answer.times:
        event("some availability")
    assert got == expected.answer
    zone = ZoneInfo(world.time_zone)
    for t in reply.available_times:
        for instant, wall in ((t.start_time, t.local_start), (t.end_time, t.local_end)):
            clock = moment(minutes_of(instant)).astimezone(zone)
            assert _wall(wall) == (*clock.timetuple()[:5], 0)
            assert wall.time_zone.id == world.time_zone
    # The explanations cover exactly the time left out of the free ranges.
    exclusions: list[tuple[int, int, set[oracle.Reason]]] = [
        (minutes_of(x.start_time), minutes_of(x.end_time), set()) for x in reply.exclusions
    ]
    check_exclusions_cover(exclusions, expected)
