"""Rooms in a meeting query: which slots have enough matching rooms free.

Pure computation like the engine. A room serves a slot when none of its
busy blocks overlaps the slot and the slot lies outside its ``off`` time
(what its booking policy forbids, e.g. past how far ahead it may be
booked). People's buffers and working hours do not apply to rooms.

The slots needing ``count`` rooms are found without testing every room for
every slot: each room's free time gives the *start* times it can host a
meeting of the duration (``[a, b - duration]`` of each free interval), and a
sweep over those start intervals yields where at least ``count`` rooms can
host it. Only the slots returned are then matched to their rooms.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.availability.intervals import Interval, merge, subtract

__all__ = ["Room", "hosting_starts", "rooms_free"]


@dataclass
class Room:
    label: str  # the resource's name
    calendar: str
    spans: list[Interval]  # busy
    off: list[Interval] = field(default_factory=list)
    events: list[tuple[int, int, str]] = field(default_factory=list)  # for explanations
    # Derived by `prepare`:
    free: list[Interval] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)  # free starts, for bisect


def prepare(rooms: Sequence[Room], span: Interval) -> None:
    for room in rooms:
        room.free = subtract([span], merge([*room.spans, *room.off]))
        room.starts = [s for s, _ in room.free]


def hosting_starts(rooms: Sequence[Room], duration: int, count: int) -> list[Interval]:
    """Half-open start-time intervals where at least ``count`` rooms can host."""
    edges: list[tuple[int, int]] = []
    for room in rooms:
        for s, e in room.free:
            if e - s >= duration:
                edges += [(s, 1), (e - duration + 1, -1)]
    edges.sort()
    out: list[Interval] = []
    open_count, opened = 0, 0
    for point, delta in edges:
        before = open_count
        open_count += delta
        if before < count <= open_count:
            opened = point
        elif before >= count > open_count and point > opened:
            out.append((opened, point))
    return merge(out)


def rooms_free(rooms: Sequence[Room], start: int, end: int) -> tuple[str, ...]:
    """The labels of the rooms free for all of ``[start, end)``, in query order."""
    out = []
    for room in rooms:
        i = bisect.bisect_right(room.starts, start) - 1
        if i >= 0 and end <= room.free[i][1]:
            out.append(room.label)
    return tuple(out)


def starts_ok(starts: Sequence[Interval], start: int) -> bool:
    i = bisect.bisect_right(starts, start, key=lambda iv: iv[0]) - 1
    return i >= 0 and start < starts[i][1]
