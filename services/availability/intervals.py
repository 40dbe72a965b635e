"""Half-open intervals of integer microseconds, kept sorted and disjoint."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from operator import itemgetter

__all__ = ["Interval", "complement", "intersect", "merge", "subtract", "total", "within"]

Interval = tuple[int, int]
_start = itemgetter(0)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint; touching intervals join."""
    out: list[Interval] = []
    # By start alone: the order of equal starts does not change the union,
    # and comparing ints is much cheaper than comparing tuples.
    ordered = sorted(intervals, key=_start)
    last_start = last_end = 0
    for start, end in ordered:
        if end <= start:
            continue
        if out and start <= last_end:
            if end > last_end:
                last_end = end
                out[-1] = (last_start, end)
        else:
            last_start, last_end = start, end
            out.append((start, end))
    return out


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Of two merged lists."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """``a`` without ``b``, both merged."""
    out: list[Interval] = []
    j = 0
    for start, end in a:
        while j < len(b) and b[j][1] <= start:
            j += 1
        k = j
        cursor = start
        while k < len(b) and b[k][0] < end:
            if b[k][0] > cursor:
                out.append((cursor, b[k][0]))
            cursor = max(cursor, b[k][1])
            k += 1
        if cursor < end:
            out.append((cursor, end))
    return out


def complement(a: Sequence[Interval], span: Interval) -> list[Interval]:
    return subtract([span], a)


def within(inner: Interval, outer: Sequence[Interval]) -> bool:
    """Whether ``inner`` lies inside one interval of the merged list ``outer``."""
    i = bisect.bisect_right(outer, inner[0], key=lambda iv: iv[0]) - 1
    return i >= 0 and inner[1] <= outer[i][1]


def total(a: Sequence[Interval]) -> int:
    return sum(e - s for s, e in a)
