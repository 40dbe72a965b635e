"""The fake's data: users, calendars and events as Google keeps them.

Events are Google ``Event`` resources; every write gives the event a new
etag and a new position in its calendar's change sequence. A sync token is
``{epoch}.{position}``: :meth:`Calendar.expire_tokens` bumps the epoch, so
older tokens answer 410 ``fullSyncRequired``. A deleted event stays as a
tombstone: listed with only its id (and ``recurringEventId`` and
``originalStartTime`` for a cancelled instance), as Google guarantees no more.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["ApiError", "Calendar", "now_rfc3339"]

_ETAGS = itertools.count(3181161784712000)


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_etag() -> str:
    return f'"{next(_ETAGS)}"'


def new_id() -> str:
    return uuid.uuid4().hex  # [0-9a-f] is inside base32hex [0-9a-v]


class ApiError(Exception):
    """An error reply in Google's shape (developers.google.com ... /guides/errors)."""

    def __init__(self, code: int, reason: str, message: str, domain: str = "global") -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.domain = code, reason, message, domain

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "errors": [{"domain": self.domain, "reason": self.reason, "message": self.message}],
                "code": self.code,
                "message": self.message,
            }
        }


@dataclass
class Calendar:
    id: str
    summary: str
    owner: str
    time_zone: str = "UTC"
    description: str = ""
    role: str = "owner"
    primary: bool = False
    color: str = "#9fe1e7"
    etag: str = field(default_factory=new_etag)
    entry_etag: str = field(default_factory=new_etag)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    seq: dict[str, int] = field(default_factory=dict)  # event id -> last change position
    deleted: set[str] = field(default_factory=set)
    position: int = 0
    epoch: int = 1

    def resource(self) -> dict[str, Any]:
        out = {
            "kind": "calendar#calendar",
            "etag": self.etag,
            "id": self.id,
            "summary": self.summary,
            "timeZone": self.time_zone,
        }
        if self.description:
            out["description"] = self.description
        return out

    def entry(self) -> dict[str, Any]:
        out = {
            "kind": "calendar#calendarListEntry",
            "etag": self.entry_etag,
            "id": self.id,
            "summary": self.summary,
            "timeZone": self.time_zone,
            "colorId": "14",
            "backgroundColor": self.color,
            "foregroundColor": "#000000",
            "accessRole": self.role,
            "defaultReminders": [],
        }
        if self.description:
            out["description"] = self.description
        if self.primary:
            out["primary"] = True
        return out

    def touch(self, event_id: str) -> None:
        self.position += 1
        self.seq[event_id] = self.position
        self.events[event_id]["etag"] = new_etag()
        self.events[event_id]["updated"] = now_rfc3339()

    def expire_tokens(self) -> None:
        self.epoch += 1

    def token(self) -> str:
        return f"{self.epoch}.{self.position}"

    def since(self, token: str) -> int:
        epoch, _, position = token.partition(".")
        if not position.isdigit() or epoch != str(self.epoch):
            raise ApiError(
                410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required."
            )
        return int(position)

    def visible(self, event_id: str, show_deleted: bool) -> bool:
        """Listed without a sync token: live events, and cancelled instances of live series."""
        event = self.events[event_id]
        if event_id in self.deleted:
            return show_deleted
        if event.get("status") == "cancelled":
            master = event.get("recurringEventId", "")
            return show_deleted or (master in self.events and master not in self.deleted)
        return True

    def listed(self, event_id: str) -> dict[str, Any]:
        """What a listing shows of an event: a tombstone is its id only."""
        event = self.events[event_id]
        if event_id in self.deleted or event.get("status") == "cancelled":
            keep = ("kind", "etag", "id", "status", "recurringEventId", "originalStartTime")
            return {k: event[k] for k in keep if k in event}
        return event
