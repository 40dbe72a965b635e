"""Brute force for rooms in a meeting query: every slot, every room, every minute.

Independent of the engine's sweep: a slot is offered when every person is
free at each of its minutes (buffers widen their busy minutes) and at least
``count`` rooms have no busy or off minute in it; its rooms are those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["RoomAsk", "RoomSlot", "solve_rooms"]

Span = tuple[int, int]  # minutes, half-open


@dataclass(frozen=True)
class RoomAsk:
    windows: Sequence[Span]
    duration: int
    increment: int
    count: int
    people: Sequence[Sequence[Span]]  # busy minutes of each required person
    rooms: Sequence[tuple[str, Sequence[Span], Sequence[Span]]]  # label, busy, off
    buffer: int = 0  # before and after people's events
    max_results: int = 1000


@dataclass(frozen=True)
class RoomSlot:
    start: int
    end: int
    rooms: tuple[str, ...]


def _taken(spans: Sequence[Span], widen: int = 0) -> set[int]:
    return {m for s, e in spans for m in range(s - widen, e + widen)}


def solve_rooms(ask: RoomAsk) -> tuple[list[RoomSlot], list[Span]]:
    """The slots offered, and the slots the people could make but no rooms could host."""
    people = [_taken(p, ask.buffer) for p in ask.people]
    rooms = [(label, _taken(busy) | _taken(off)) for label, busy, off in ask.rooms]
    offered: list[RoomSlot] = []
    roomless: list[Span] = []
    for ws, we in ask.windows:
        start = ws
        while start + ask.duration <= we:
            minutes = range(start, start + ask.duration)
            if all(not any(m in p for m in minutes) for p in people):
                free = tuple(lb for lb, t in rooms if not any(m in t for m in minutes))
                if len(free) >= ask.count:
                    offered.append(RoomSlot(start, start + ask.duration, free))
                else:
                    roomless.append((start, start + ask.duration))
            start += ask.increment
    return offered[: ask.max_results], roomless
