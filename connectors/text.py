"""Folded text for sorting and searching contacts and resources.

A query for ``jose`` must find ``José`` and ``JOSÉ``, in SQLite and in
PostgreSQL alike, without an extension (``unaccent``) or a collation that
differs between servers. So the store keeps the text already folded (case
and accents removed by Unicode decomposition) and a query is folded the same
way, then matched with one ``LIKE`` on that column.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

__all__ = ["digits", "fold", "like_pattern", "search_text"]

# Unit separator: never typed by anyone, so no query can match across fields.
_SEPARATOR = "\x1f"


def fold(text: str) -> str:
    """Case- and accent-insensitive form: ``"Zoë Ångström"`` -> ``"zoe angstrom"``."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    # Letters with no decomposition that people type without their mark.
    bare = bare.translate(_NO_DECOMPOSITION)
    # Control characters (NUL above all: PostgreSQL text refuses it) never
    # help a search.
    bare = "".join(c if c.isprintable() else " " for c in bare)
    return " ".join(bare.casefold().split())


_NO_DECOMPOSITION = str.maketrans({"ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L"})


def digits(text: str) -> str:
    """Only the digits, so ``+1 (555) 010-2000`` matches a query ``5550102000``."""
    return "".join(c for c in text if c.isdigit())


def search_text(parts: Iterable[str]) -> str:
    """The folded, separated search column of a row."""
    return _SEPARATOR.join(fold(p) for p in parts if p)


def like_pattern(query: str) -> str:
    """A ``LIKE ... ESCAPE '\\'`` pattern matching rows containing ``query``."""
    folded = fold(query)
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
