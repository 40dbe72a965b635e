"""Field and zone mappings of the Graph connector, as tables (no processes)."""

from __future__ import annotations

from typing import Any

import pytest
from almanac.v1 import event_service_pb2 as ev_pb

from connectors.errors import InvalidArgument
from connectors.msgraph import events
from connectors.msgraph.zones import iana_to_windows, windows_to_iana
from tests.services.events.support import at, local, utc

ZONES = [
    ("Europe/Berlin", "W. Europe Standard Time"),  # CLDR territory 001
    ("America/Los_Angeles", "Pacific Standard Time"),
    ("Europe/Madrid", "Central Europe Standard Time"),  # same rules as a 001 zone
    ("America/Toronto", "Eastern Standard Time"),  # not Cuba: same offsets, other names
    ("Asia/Kolkata", "India Standard Time"),
    ("UTC", "UTC"),
    ("Antarctica/Troll", None),  # +00/+02: no Windows zone has its rules
]


@pytest.mark.parametrize(("iana", "windows"), ZONES)
def test_iana_to_windows(iana: str, windows: str | None) -> None:
    assert iana_to_windows(iana) == windows


def test_windows_to_iana_reads_windows_and_iana_names() -> None:
    assert windows_to_iana("W. Europe Standard Time") == "Europe/Berlin"
    assert windows_to_iana("Europe/Paris") == "Europe/Paris"
    assert windows_to_iana("Nowhere Standard Time") is None


def _event(**fields: Any) -> ev_pb.Event:
    return ev_pb.Event(
        display_name="x", start=at(utc(2026, 11, 2, 9)), end=at(utc(2026, 11, 2, 10)), **fields
    )


# (Almanac fields, Graph members expected, what reading them back gives)
FIELDS: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ({"visibility": ev_pb.VISIBILITY_PRIVATE}, {"sensitivity": "private"},
     {"visibility": ev_pb.VISIBILITY_PRIVATE}),
    ({"visibility": ev_pb.VISIBILITY_CONFIDENTIAL}, {"sensitivity": "confidential"},
     {"visibility": ev_pb.VISIBILITY_CONFIDENTIAL}),
    ({"visibility": ev_pb.VISIBILITY_PUBLIC}, {"sensitivity": "normal"},
     {"visibility": ev_pb.VISIBILITY_DEFAULT}),
    ({"transparent": True}, {"showAs": "free"}, {"transparent": True}),
    ({"status": ev_pb.EVENT_STATUS_TENTATIVE}, {"showAs": "tentative"},
     {"status": ev_pb.EVENT_STATUS_TENTATIVE}),
    ({}, {"showAs": "busy"}, {"status": ev_pb.EVENT_STATUS_CONFIRMED, "transparent": False}),
    ({"categories": ["A", "B"]}, {"categories": ["A", "B"]}, {"categories": ["A", "B"]}),
    ({"use_default_reminders": False}, {"isReminderOn": False}, {"reminders": []}),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "graph", "back"), FIELDS)
def test_fields_map_both_ways(
    fields: dict[str, Any], graph: dict[str, Any], back: dict[str, Any]
) -> None:
    body = events.to_graph(_event(**fields))
    assert graph.items() <= body.items()
    read = events.from_graph({**body, "id": "1"}, "uid", "UTC")
    for name, value in back.items():
        got = getattr(read, name)
        assert (list(got) if name in ("categories", "reminders") else got) == value


def test_html_bodies_become_text() -> None:
    raw = {"id": "1", "subject": "s", "body": {"contentType": "html", "content":
           "<html><head><style>p{color:red}</style></head><body><p>Hi &amp; bye</p>"
           "<div>Line 2</div></body></html>"}}  # fmt: skip
    assert events.from_graph(raw, "u", "UTC").description == "Hi & bye\nLine 2"


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (_event(reminders=[ev_pb.Reminder(minutes=5), ev_pb.Reminder(minutes=10)]),
         "event.reminders"),
        (_event(reminders=[ev_pb.Reminder(minutes=5, method=2)]), "event.reminders[0].method"),
        (ev_pb.Event(display_name="t", start=at(local("Antarctica/Troll", 2026, 11, 2, 9)),
                     end=at(local("Antarctica/Troll", 2026, 11, 2, 10)),
                     recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY"])),
         "event.start.time_zone"),
    ],
)  # fmt: skip
def test_what_graph_cannot_hold_is_refused(event: ev_pb.Event, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        events.to_graph(event)
    assert caught.value.violations[0][0] == field


def test_all_day_events_are_dates_at_midnight_both_ways() -> None:
    from tests.services.events.support import day

    event = ev_pb.Event(display_name="Holiday", start=day(2026, 12, 24), end=day(2026, 12, 26))
    body = events.to_graph(event)
    assert body["isAllDay"] is True
    assert body["start"] == {"dateTime": "2026-12-24T00:00:00.0000000", "timeZone": "UTC"}
    assert body["end"]["dateTime"].startswith("2026-12-26T00:00:00")
    read = events.from_graph({**body, "id": "1"}, "u", "Europe/Berlin")
    assert (read.start, read.end) == (day(2026, 12, 24), day(2026, 12, 26))


def test_a_cancelled_event_is_refused() -> None:
    with pytest.raises(InvalidArgument) as caught:
        events.to_graph(_event(status=ev_pb.EVENT_STATUS_CANCELLED))
    assert caught.value.violations[0][0] == "event.status"
