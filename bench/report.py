"""Plain-text tables and number formats shared by the scenarios."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["mib", "progress", "table"]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to width; the first column left-aligned, the rest right-aligned."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        out = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def mib(n_bytes: float) -> str:
    return f"{n_bytes / (1 << 20):.1f}"


def progress(message: str) -> None:
    """A progress note on stderr, so stdout holds only the report."""
    print(f"  .. {message}", file=sys.stderr, flush=True)
