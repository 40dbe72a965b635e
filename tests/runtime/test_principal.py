"""Scopes, account access and the principal contextvar."""

from __future__ import annotations

import pytest

from connectors.errors import PermissionDenied
from services.runtime.principal import Principal, current_principal, principal, require_account


def p(*scopes: str, accounts: set[str] | None = None) -> Principal:
    return Principal("t1", frozenset(scopes), frozenset(accounts) if accounts is not None else None)


@pytest.mark.parametrize(
    ("granted", "wanted", "ok"),
    [
        (("calendars:read",), "calendars:read", True),
        (("calendars:read",), "calendars:write", False),
        (("calendars:write",), "calendars:read", True),
        (("calendars:write",), "calendars:admin", False),
        (("calendars:admin",), "calendars:write", True),
        (("calendars:admin",), "calendars:read", True),
        (("calendars:admin",), "contacts:read", False),
        (("contacts:*",), "contacts:admin", True),
        (("contacts:*",), "calendars:read", False),
        (("activity:read",), "activity:read", True),
        (("admin",), "resources:admin", True),
        (("admin",), "admin", True),
        (("calendars:admin",), "admin", False),
        (("calendars:read",), "", True),
        ((), "", True),
        ((), "calendars:read", False),
        (("calendars:freebusy",), "calendars:freebusy", True),
        (("calendars:admin",), "calendars:freebusy", False),
        (("calendars",), "calendars:read", False),
    ],
)
def test_has_scope(granted: tuple[str, ...], wanted: str, ok: bool) -> None:
    assert p(*granted).has_scope(wanted) is ok


def test_can_access() -> None:
    assert p(accounts=None).can_access("any")
    limited = p(accounts={"a1"})
    assert limited.can_access("a1") and not limited.can_access("a2")
    assert not p("admin", accounts=set()).can_access("a1")


def test_principal_contextvar() -> None:
    with pytest.raises(RuntimeError):
        principal()
    token = current_principal.set(p("calendars:read", accounts={"a1"}))
    try:
        assert principal().token_id == "t1"
        assert require_account("a1").token_id == "t1"
        with pytest.raises(PermissionDenied) as err:
            require_account("a2")
        assert err.value.reason == "ACCOUNT_ACCESS_DENIED"
    finally:
        current_principal.reset(token)


def test_principal_is_frozen() -> None:
    with pytest.raises(AttributeError):
        p().token_id = "other"  # type: ignore[misc]
