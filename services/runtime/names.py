"""Resource names (AIP-122) and their aliases.

``accounts/me`` stands for the caller's account when its token was granted
exactly one; ``calendars/primary`` for the account's primary calendar. The
alias of a calendar is resolved by the connector (it knows which calendar is
primary); the account alias is resolved here, from the principal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from connectors.errors import InvalidArgument
from services.runtime.principal import Principal

__all__ = [
    "ID_RE",
    "AccountName",
    "CalendarName",
    "ChildName",
    "parse_account",
    "parse_account_child",
    "parse_calendar",
    "parse_calendar_child",
    "resolve_account_id",
]

# AIP-122: lower-case, RFC-1034-like ids. Calendar and schedule ids also allow
# `_` because CalDAV collection names and Google calendar ids commonly have it.
ID_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
CHILD_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
EVENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,254}$")


@dataclass(frozen=True, slots=True)
class AccountName:
    account: str

    def __str__(self) -> str:
        return f"accounts/{self.account}"


@dataclass(frozen=True, slots=True)
class CalendarName:
    account: str
    calendar: str

    def __str__(self) -> str:
        return f"accounts/{self.account}/calendars/{self.calendar}"


@dataclass(frozen=True, slots=True)
class ChildName:
    """A resource under a calendar: ``.../calendars/{c}/{collection}/{id}``."""

    account: str
    calendar: str
    collection: str
    id: str

    @property
    def parent(self) -> CalendarName:
        return CalendarName(self.account, self.calendar)

    def __str__(self) -> str:
        return f"accounts/{self.account}/calendars/{self.calendar}/{self.collection}/{self.id}"


def _bad(field: str, value: str, pattern: str) -> InvalidArgument:
    shown = value if len(value) <= 100 else value[:100] + "..."
    return InvalidArgument(
        f"{field} {shown!r} is not a valid resource name",
        violations=[(field, f"must look like {pattern}")],
        reason="INVALID_RESOURCE_NAME",
    )


def parse_account(value: str, field: str = "name") -> AccountName:
    parts = value.split("/")
    if len(parts) != 2 or parts[0] != "accounts" or not _account_ok(parts[1]):
        raise _bad(field, value, "accounts/{account}")
    return AccountName(parts[1])


def parse_calendar(value: str, field: str = "name") -> CalendarName:
    parts = value.split("/")
    if (
        len(parts) != 4
        or parts[0] != "accounts"
        or parts[2] != "calendars"
        or not _account_ok(parts[1])
        or not CHILD_ID_RE.match(parts[3])
    ):
        raise _bad(field, value, "accounts/{account}/calendars/{calendar}")
    return CalendarName(parts[1], parts[3])


def parse_calendar_child(value: str, collection: str, field: str = "name") -> ChildName:
    parts = value.split("/")
    id_re = EVENT_ID_RE if collection == "events" else CHILD_ID_RE
    if (
        len(parts) != 6
        or parts[0] != "accounts"
        or parts[2] != "calendars"
        or parts[4] != collection
        or not _account_ok(parts[1])
        or not CHILD_ID_RE.match(parts[3])
        or not id_re.match(parts[5])
    ):
        raise _bad(field, value, f"accounts/{{account}}/calendars/{{calendar}}/{collection}/{{id}}")
    return ChildName(parts[1], parts[3], collection, parts[5])


def parse_account_child(value: str, collection: str, field: str = "name") -> tuple[str, str]:
    """``accounts/{account}/{collection}/{id}`` (contacts, resources): account and id."""
    parts = value.split("/")
    if (
        len(parts) != 4
        or parts[0] != "accounts"
        or parts[2] != collection
        or not _account_ok(parts[1])
        or not CHILD_ID_RE.match(parts[3])
    ):
        raise _bad(field, value, f"accounts/{{account}}/{collection}/{{id}}")
    return parts[1], parts[3]


def _account_ok(account: str) -> bool:
    return account == "me" or bool(ID_RE.match(account))


def resolve_account_id(account: str, principal: Principal, field: str = "name") -> str:
    """Turn ``me`` into the principal's only account; other ids pass through."""
    if account != "me":
        return account
    if principal.accounts is not None and len(principal.accounts) == 1:
        return next(iter(principal.accounts))
    raise InvalidArgument(
        "accounts/me needs a token granted exactly one account; name the account instead",
        violations=[(field, "`me` is ambiguous for this token")],
        reason="AMBIGUOUS_ACCOUNT_ALIAS",
    )
