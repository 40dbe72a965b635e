"""Graph events grouped into remote items (one iCalendar UID each).

An item's UID is the ``transactionId`` Almanac set when it created the event
(Graph does not let a client choose ``iCalUId``), else Graph's ``iCalUId``.
Its etag names the Graph id of the single event or series master and hashes
the ``@odata.etag`` of the master and of every exception, so a change to any
exception changes the item; the backend checks it before writing and sends
the master's own ``@odata.etag`` as ``If-Match``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from almanac.v1 import event_service_pb2 as ev_pb

from connectors.remote import RemoteItem

from . import events

__all__ = ["ItemEtag", "item_of", "item_uid"]


def item_uid(raw: dict[str, Any]) -> str:
    return str(raw.get("transactionId") or raw.get("iCalUId") or raw["id"])


@dataclass(frozen=True)
class ItemEtag:
    """The parts of an item etag: the Graph id of its main event and a digest."""

    event_id: str
    digest: str

    def __str__(self) -> str:
        return f"{self.event_id} {self.digest}"

    @classmethod
    def parse(cls, text: str) -> ItemEtag | None:
        event_id, _, digest = text.partition(" ")
        return cls(event_id, digest) if event_id and digest else None

    @classmethod
    def of(cls, main: dict[str, Any], exceptions: list[dict[str, Any]]) -> ItemEtag:
        digest = hashlib.sha256(str(main.get("@odata.etag", "")).encode())
        for raw in sorted(exceptions, key=lambda r: str(r["id"])):
            digest.update(f"\n{raw['id']}\0{raw.get('@odata.etag', '')}".encode())
        return cls(str(main["id"]), digest.hexdigest()[:32])


def item_of(main: dict[str, Any]) -> RemoteItem:
    """The item of a single event or a series master read with its exceptions."""
    uid = item_uid(main)
    zone = events.series_zone(main)
    exceptions = [e for e in main.get("exceptionOccurrences") or [] if not e.get("isCancelled")]
    exceptions.sort(key=lambda e: str(e.get("originalStart") or ""))
    converted: list[ev_pb.Event] = [events.from_graph(main, uid, zone)]
    converted += [events.from_graph(e, uid, zone) for e in exceptions]
    return RemoteItem(uid, str(ItemEtag.of(main, exceptions)), converted)
