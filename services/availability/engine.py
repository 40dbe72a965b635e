"""When can they meet: interval algebra over busy time and working hours.

Pure computation on microsecond intervals, so the property tests can check
it against a minute-grid oracle without a server. A participant is free
where no busy block (widened by the buffers) and no time outside its
working hours touches; every required participant must be free, and each
optional group needs ``minimum_free`` members free.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from almanac.v1 import availability_service_pb2 as av_pb

from services.availability.intervals import Interval, complement, intersect, merge, subtract, within
from services.availability.rooms import Room, hosting_starts, prepare, rooms_free, starts_ok

__all__ = ["Block", "Exclusion", "Participant", "Query", "Reason", "Result", "Slot", "solve"]

KIND = av_pb.ExclusionKind


@dataclass(frozen=True, slots=True)
class Block:
    """A busy block of one calendar, with what caused it (for explanations)."""

    start: int
    end: int
    calendar: str
    event: str  # the event's resource name


@dataclass
class Participant:
    label: str
    blocks: list[Block]  # what explanations cite; may stay empty without explain
    working: list[Interval] | None  # None: no schedules, always available
    # The busy intervals; default: the blocks'. Given as plain pairs they spare
    # building a Block per busy event when nobody asked for explanations.
    spans: list[Interval] | None = None
    # Derived by `_prepare`:
    busy: list[Interval] = field(default_factory=list)
    blocked: list[Interval] = field(default_factory=list)  # busy plus buffers
    off: list[Interval] = field(default_factory=list)
    free: list[Interval] = field(default_factory=list)


@dataclass(frozen=True)
class Query:
    windows: list[Interval]  # merged
    duration: int
    increment: int  # 0: free ranges
    buffer_before: int
    buffer_after: int
    max_results: int
    explain: bool
    required: list[Participant]
    groups: list[tuple[list[Participant], int]]  # members, minimum free
    # Rooms (services.availability.rooms): each slot needs `room_count` of them free.
    rooms: list[Room] = field(default_factory=list)
    room_count: int = 0


@dataclass(frozen=True, slots=True)
class Slot:
    start: int
    end: int
    free_optional: tuple[str, ...]
    free_rooms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reason:
    participant: str
    calendar: str
    kind: int
    event: str


@dataclass(frozen=True, slots=True)
class Exclusion:
    start: int
    end: int
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Result:
    slots: list[Slot]
    truncated: bool
    exclusions: list[Exclusion]


def _prepare(p: Participant, q: Query, span: Interval) -> None:
    spans = p.spans if p.spans is not None else [(b.start, b.end) for b in p.blocks]
    p.busy = merge(spans)
    before, after = q.buffer_before, q.buffer_after
    p.blocked = merge((s - before, e + after) for s, e in spans) if before or after else p.busy
    p.off = complement(p.working, span) if p.working is not None else []
    p.free = subtract(q.windows, merge([*p.blocked, *p.off]))


def _quorum(members: Sequence[Participant], minimum: int) -> list[Interval]:
    """Where at least ``minimum`` members are free (a sweep over their edges)."""
    edges: list[tuple[int, int]] = []
    for m in members:
        for s, e in m.free:
            edges += [(s, 1), (e, -1)]
    edges.sort()
    out: list[Interval] = []
    count, opened = 0, 0
    for point, delta in edges:
        before = count
        count += delta
        if before < minimum <= count:
            opened = point
        elif before >= minimum > count and point > opened:
            out.append((opened, point))
    return merge(out)


def _free_together(q: Query, people: Sequence[Participant], span: Interval) -> list[Interval]:
    """Where every one of ``people`` is free: the windows without everyone's
    busy time (with buffers) and time off, all in one merge.

    The same as intersecting each person's free time, in one pass over all
    the blocks instead of three per person (their merge, their free time, the
    intersection): with 20 busy calendars this was most of the engine's time.
    """
    before, after = q.buffer_before, q.buffer_after
    taken: list[Interval] = []
    for p in people:
        spans = p.spans if p.spans is not None else [(b.start, b.end) for b in p.blocks]
        taken += [(s - before, e + after) for s, e in spans] if before or after else spans
        p.off = complement(p.working, span) if p.working is not None else []
        taken += p.off
    return subtract(q.windows, merge(taken))


def solve(q: Query) -> Result:
    span = (q.windows[0][0], q.windows[-1][1])
    for members, _ in q.groups:
        for p in members:
            _prepare(p, q, span)
    free = _free_together(q, q.required, span) if q.required else list(q.windows)
    quorums = [_quorum(members, minimum) for members, minimum in q.groups]
    for quorum in quorums:
        free = intersect(free, quorum)
    ranges = [r for r in free if r[1] - r[0] >= q.duration]
    optional = [m for members, _ in q.groups for m in members]
    roomless: list[Interval] = []
    slots, truncated = _slots(q, ranges, optional, span, roomless)
    exclusions = _explain(q, ranges, quorums) if q.explain else []
    if q.explain and roomless:
        exclusions = sorted([*exclusions, *(_no_room(q, a, b) for a, b in roomless)],
                            key=lambda x: (x.start, x.end))  # fmt: skip
    return Result(slots, truncated, exclusions)


def _no_room(q: Query, a: int, b: int) -> Exclusion:
    """A slot the people could make but too few rooms could host, and why."""
    reasons = [Reason("", "", KIND.EXCLUSION_KIND_NO_ROOM, "")]
    for room in q.rooms:
        reasons += [Reason(room.label, room.calendar, KIND.EXCLUSION_KIND_BUSY, event)
                    for s, e, event in room.events if s < b and e > a]  # fmt: skip
    return Exclusion(a, b, tuple(dict.fromkeys(reasons)))


def _slots(
    q: Query, ranges: list[Interval], optional: list[Participant], span: Interval,
    roomless: list[Interval],
) -> tuple[list[Slot], bool]:  # fmt: skip
    out: list[Slot] = []
    starts: list[Interval] = []
    if q.rooms or q.room_count:
        prepare(q.rooms, span)
        starts = hosting_starts(q.rooms, q.duration, q.room_count)

    def add(start: int, end: int) -> bool:
        if len(out) == q.max_results:
            return False
        if q.room_count and not starts_ok(starts, start):
            if q.explain:
                roomless.append((start, end))
            return True
        free = tuple(m.label for m in optional if within((start, end), m.free))
        rooms = rooms_free(q.rooms, start, end) if q.room_count else ()
        out.append(Slot(start, end, free, rooms))
        return True

    if not q.increment:
        for start, end in ranges:
            if not add(start, end):
                return out, True
        return out, False
    for ws, we in q.windows:
        for rs, re in ranges:
            if re <= ws or rs >= we:
                continue
            k = max(0, -(-(rs - ws) // q.increment))  # slots align to the window start
            start = ws + k * q.increment
            while start + q.duration <= min(re, we):
                if not add(start, start + q.duration):
                    return out, True
                start += q.increment
    return out, False


class _Sweep:
    """One participant's blocks around a point moving forward through time."""

    def __init__(self, p: Participant, before: int, after: int) -> None:
        self.p, self.before, self.after = p, before, after
        self.pending = sorted(p.blocks, key=lambda blk: blk.start - before)
        self.next = 0
        self.active: list[Block] = []

    def covering(self, a: int, b: int) -> list[Block]:
        """Blocks whose busy time or buffer covers all of ``[a, b)``."""
        while self.next < len(self.pending) and self.pending[self.next].start - self.before <= a:
            self.active.append(self.pending[self.next])
            self.next += 1
        self.active = [blk for blk in self.active if blk.end + self.after > a]
        return [blk for blk in self.active if blk.end + self.after >= b]


def _explain(q: Query, ranges: list[Interval], quorums: list[list[Interval]]) -> list[Exclusion]:
    excluded = subtract(q.windows, merge(ranges))
    if not excluded:
        return []
    people: list[tuple[_Sweep, int | None]] = [
        (_Sweep(p, q.buffer_before, q.buffer_after), None) for p in q.required
    ]
    for g, (members, _) in enumerate(q.groups):
        people += [(_Sweep(m, q.buffer_before, q.buffer_after), g) for m in members]
    points = {s for s, _ in excluded} | {e for _, e in excluded}
    for sweep, _ in people:
        # Every block's own edges and buffer edges cut the time, so each piece
        # has one set of reasons that holds for all of it.
        for blk in sweep.p.blocks:
            points.update(
                (blk.start, blk.end, blk.start - q.buffer_before, blk.end + q.buffer_after)
            )
        for s, e in sweep.p.off:
            points.update((s, e))
    for quorum in quorums:
        for s, e in quorum:
            points.update((s, e))
    cuts = sorted(points)
    out: list[Exclusion] = []
    for start, end in excluded:
        lo = bisect.bisect_left(cuts, start)
        hi = bisect.bisect_left(cuts, end)
        edges = [start, *cuts[lo:hi], end]
        for a, b in itertools.pairwise(edges):
            if a >= b:
                continue
            reasons = _reasons(people, quorums, a, b)
            if out and out[-1].end == a and out[-1].reasons == reasons:
                out[-1] = Exclusion(out[-1].start, b, reasons)
            else:
                out.append(Exclusion(a, b, reasons))
    return out


def _reasons(
    people: list[tuple[_Sweep, int | None]],
    quorums: list[list[Interval]],
    a: int,
    b: int,
) -> tuple[Reason, ...]:
    failed = {g for g, quorum in enumerate(quorums) if not within((a, b), quorum)}
    reasons: list[Reason] = [
        Reason(f"groups[{g}]", "", KIND.EXCLUSION_KIND_GROUP_QUORUM, "") for g in sorted(failed)
    ]
    for sweep, group in people:
        covering = sweep.covering(a, b)  # advance every sweep, even when not needed
        if group is not None and group not in failed:
            continue
        # Every reason that holds for the whole piece: busy with each event
        # covering it, in the buffer of each other event, outside hours.
        label = sweep.p.label
        for blk in covering:
            kind = (
                KIND.EXCLUSION_KIND_BUSY
                if blk.start <= a and blk.end >= b
                else KIND.EXCLUSION_KIND_BUFFER
            )
            reasons.append(Reason(label, blk.calendar, kind, blk.event))
        if within((a, b), sweep.p.off):
            reasons.append(Reason(label, "", KIND.EXCLUSION_KIND_OUTSIDE_WORKING_HOURS, ""))
    if not reasons:
        reasons.append(Reason("", "", KIND.EXCLUSION_KIND_TOO_SHORT, ""))
    return tuple(dict.fromkeys(reasons))
