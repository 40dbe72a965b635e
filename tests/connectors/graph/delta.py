"""The fake's ``calendarView/delta``: snapshots of the view, paged.

A round's state is the view it last showed (instance id -> changeKey). A
later call compares the view of now with it: new or changed instances come
whole, vanished ones as ``@removed``. Pages follow ``@odata.nextLink``
(``$skiptoken``), the last page has ``@odata.deltaLink`` (``$deltatoken``).
Page size: ``Prefer: odata.maxpagesize``, at most the fake's ``page_size``. An
unknown token (``expire_tokens``) answers 410 with ``syncStateNotFound``
and a ``Location`` with an empty ``$deltatoken``, as documented.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC
from typing import TYPE_CHECKING, Any

from tests.connectors.graph.store import Calendar, Mailbox, parse_wall, public

if TYPE_CHECKING:
    from tests.connectors.graph.fake import FakeGraph

__all__ = ["page"]

_PAGE = re.compile(r"odata\.maxpagesize=(\d+)")
Reply = tuple[int, Any, dict[str, str]]


def page(
    fake: FakeGraph, box: Mailbox, cal: Calendar, query: dict[str, str], headers: Any
) -> Reply:
    link = f"{fake.api_url}/me/calendars/{cal.id}/calendarView/delta"
    size_match = _PAGE.search(str(headers.get("Prefer") or ""))
    # Graph may send fewer than asked for; the fake's page_size caps it.
    size = min(int(size_match.group(1)), fake.page_size) if size_match else fake.page_size
    tokens = {"$skiptoken", "$deltatoken"} & set(query)
    extra = set(query) - tokens - (set() if tokens else {"startDateTime", "endDateTime"})
    if extra or len(tokens) > 1:
        # event-delta.md: query parameters go in the first call only, and
        # $select, $expand, $filter, $orderby and $search are not supported.
        problem = f"calendarView/delta: unexpected query {sorted(extra | tokens)}"
        fake.note(problem)
        return 400, {"error": {"code": "ErrorInvalidUrlQuery", "message": problem}}, {}
    if "$skiptoken" in query:
        pending = box.pages.pop(query["$skiptoken"], None)
        if pending is None:
            return _gone(link)
        return _emit(box, link, pending, size)
    if "$deltatoken" in query:
        state = box.sessions.get(query["$deltatoken"])
        if state is None:
            return _gone(link)
        window, before = state["window"], state["snapshot"]
    else:
        try:
            start = parse_wall(query["startDateTime"]).replace(tzinfo=UTC)
            end = parse_wall(query["endDateTime"]).replace(tzinfo=UTC)
        except (KeyError, ValueError):
            return (
                400,
                {
                    "error": {
                        "code": "ErrorInvalidParameter",
                        "message": "startDateTime and endDateTime",
                    }
                },
                {},
            )
        window, before = (start, end), {}
    view = {str(e["id"]): e for e in box.view(cal, *window)}
    after = {i: str(e["changeKey"]) for i, e in view.items()}
    changed = [public(view[i]) for i in sorted(after) if before.get(i) != after[i]]
    removed = [
        {"@odata.type": "#microsoft.graph.event", "id": i, "@removed": {"reason": "deleted"}}
        for i in sorted(set(before) - set(after))
    ]
    pending = {"entries": changed + removed, "window": window, "snapshot": after}
    return _emit(box, link, pending, size)


def _emit(box: Mailbox, link: str, pending: dict[str, Any], size: int) -> Reply:
    entries = pending["entries"]
    now, rest = entries[:size], entries[size:]
    if rest:
        key = uuid.uuid4().hex
        box.pages[key] = {**pending, "entries": rest}
        return 200, {"value": now, "@odata.nextLink": f"{link}?$skiptoken={key}"}, {}
    key = uuid.uuid4().hex
    box.sessions[key] = {"window": pending["window"], "snapshot": pending["snapshot"]}
    return 200, {"value": now, "@odata.deltaLink": f"{link}?$deltatoken={key}"}, {}


def _gone(link: str) -> Reply:
    return (
        410,
        {
            "error": {
                "code": "syncStateNotFound",
                "message": "The sync state was not found or has expired.",
            }
        },
        {"Location": f"{link}?$deltatoken="},
    )
