"""Who is calling: the authenticated principal of the current RPC.

The authentication interceptor resolves the bearer token into a `Principal`
and stores it in `current_principal` for the duration of the handler
(including the body of an async-generator stream handler). Servicers read it
with `principal()` and check account access with `require_account` *before*
looking anything up, so a caller cannot probe for the existence of another
account's data (permission before existence).

Scopes are ``<area>:<level>`` (``calendars:read``, ``contacts:write``,
``resources:admin``, ``activity:read``, ...) plus the global ``admin``.
``write`` implies ``read`` of the same area, ``admin`` (or ``*``) implies
both, and the global ``admin`` implies every scope.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol

from connectors.errors import PermissionDenied
from connectors.state.grants import GLOBAL_ADMIN, Principal

__all__ = [
    "GLOBAL_ADMIN",
    "Authenticator",
    "Principal",
    "current_principal",
    "principal",
    "require_account",
]

current_principal: ContextVar[Principal | None] = ContextVar("current_principal", default=None)


def principal() -> Principal:
    """The principal of the RPC being handled.

    Raises RuntimeError outside an authenticated RPC (for example in a public
    method such as health), which is a programming error, hence INTERNAL.
    """
    p = current_principal.get()
    if p is None:
        raise RuntimeError("no authenticated principal in this context")
    return p


def require_account(account_id: str) -> Principal:
    """The current principal, if it may use ``account_id``; else PERMISSION_DENIED."""
    p = principal()
    if not p.can_access(account_id):
        raise PermissionDenied(
            f"the token does not grant access to account {account_id!r}",
            reason="ACCOUNT_ACCESS_DENIED",
            metadata={"account": account_id},
        )
    return p


class Authenticator(Protocol):
    """Resolves a bearer token into a principal.

    Raises `connectors.errors.Unauthenticated` for a missing (``None``),
    malformed, unknown, revoked or expired token. Called once per RPC, so a
    store-backed implementation should cache.
    """

    async def __call__(self, token: str | None) -> Principal: ...
