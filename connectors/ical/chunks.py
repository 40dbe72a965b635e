"""Splitting a large ICS document into smaller, self-contained ones.

Each chunk is a whole VCALENDAR: the document's own properties and every
VTIMEZONE, then a run of top-level components. All components of one UID
(a series and its overrides) stay in the same chunk, so each chunk imports
on its own. Only line boundaries are touched (never a folded line), so what
a chunk holds is byte for byte what the document held.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Chunk", "split_document"]


@dataclass(frozen=True)
class Chunk:
    data: bytes
    components: int  # top-level components (VEVENT, VTODO, ...) in the chunk
    lines: tuple[int, ...]  # the document's line number of each of the chunk's lines

    def document_line(self, line: int) -> int:
        """Where the chunk's 1-based ``line`` stands in the document (0: nowhere)."""
        return self.lines[line - 1] if 0 < line <= len(self.lines) else 0


@dataclass
class _Block:
    lines: list[bytes]
    start: int  # 1-based line in the document
    name: bytes
    uid: bytes
    numbers: list[int] | None = None  # each line's number, when not consecutive

    def line_numbers(self) -> list[int]:
        return self.numbers or list(range(self.start, self.start + len(self.lines)))


def _blocks(lines: list[bytes]) -> tuple[_Block, list[_Block], list[_Block]]:
    """The calendar's own lines, its VTIMEZONEs, and its other components."""
    own = _Block([], 1, b"VCALENDAR", b"")
    numbers: list[int] = []
    zones: list[_Block] = []
    others: list[_Block] = []
    current: _Block | None = None
    depth = 0
    for number, line in enumerate(lines, start=1):
        upper = line.upper()
        if upper.startswith(b"BEGIN:"):
            depth += 1
            if depth == 2:
                current = _Block([], number, upper[6:].strip(), b"")
        if current is not None:
            current.lines.append(line)
            if depth == 2 and upper.startswith(b"UID:") and not current.uid:
                current.uid = line[4:].strip()
        elif depth <= 1 and not upper.startswith(b"END:VCALENDAR"):
            own.lines.append(line)
            numbers.append(number)
        if upper.startswith(b"END:"):
            if depth == 2 and current is not None:
                (zones if current.name == b"VTIMEZONE" else others).append(current)
                current = None
            depth -= 1
    own.numbers = numbers
    return own, zones, others


def split_document(data: bytes, max_components: int) -> list[Chunk]:
    """At most ``max_components`` components a chunk (more when one UID has more)."""
    own, zones, others = _blocks(data.splitlines(keepends=True))
    prelude = [own, *zones]
    groups: dict[bytes, list[_Block]] = {}
    for index, block in enumerate(others):
        groups.setdefault(block.uid or str(index).encode(), []).append(block)
    chunks: list[Chunk] = []
    pending: list[_Block] = []
    for group in groups.values():
        if pending and len(pending) + len(group) > max_components:
            chunks.append(_chunk(prelude, pending))
            pending = []
        pending.extend(group)
    if pending or not chunks:
        chunks.append(_chunk(prelude, pending))
    return chunks


def _chunk(prelude: list[_Block], blocks: list[_Block]) -> Chunk:
    parts = [*prelude, *blocks]
    data = b"".join(b"".join(b.lines) for b in parts) + b"END:VCALENDAR\r\n"
    numbers = [n for b in parts for n in b.line_numbers()] + [0]
    return Chunk(data, len(blocks), tuple(numbers))
