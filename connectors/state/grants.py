"""What a bearer token grants: its scopes on its accounts.

Scopes are ``<area>:<level>`` (``calendars:read``, ``contacts:write``,
``resources:admin``, ``activity:read``, ...) plus the global ``admin``.
``write`` implies ``read`` of the same area, ``admin`` (or ``*``) implies
both, and the global ``admin`` implies every scope.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GLOBAL_ADMIN", "Principal"]

GLOBAL_ADMIN = "admin"

# Rank of each level; a granted level satisfies every level at or below it.
_LEVELS = {"read": 0, "write": 1, "admin": 2, "*": 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """The identity behind a bearer token and what it may do."""

    token_id: str
    scopes: frozenset[str]
    accounts: frozenset[str] | None  # None = every account

    def has_scope(self, scope: str) -> bool:
        """Whether the granted scopes satisfy ``scope`` ("" is satisfied by any token)."""
        if not scope or scope in self.scopes or GLOBAL_ADMIN in self.scopes:
            return True
        area, sep, level = scope.partition(":")
        wanted = _LEVELS.get(level)
        if not sep or wanted is None:
            # Unknown level (or the global admin, checked above): exact match only.
            return False
        for granted in self.scopes:
            g_area, g_sep, g_level = granted.partition(":")
            if g_sep and g_area == area and _LEVELS.get(g_level, -1) >= wanted:
                return True
        return False

    def can_access(self, account_id: str) -> bool:
        """Whether the token is valid for ``account_id``."""
        return self.accounts is None or account_id in self.accounts
