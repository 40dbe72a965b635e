"""The `rooms` part of QueryAvailability: check it, pick the rooms, load them.

Every room of the account is classified, so that ``explain`` can say why a
room was left out (not a room, too small, another building, a missing
feature, its booking policy); the matching rooms' busy time comes from their
calendars like anyone's, with the policy's "how far ahead" as time off.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import availability_service_pb2 as av_pb
from almanac.v1 import resource_service_pb2 as rs_pb

from connectors.base import PageRequest, ResourceFilter
from connectors.policy import booker_allowed
from connectors.store.rows import datetime_from_us as from_us
from connectors.store.rows import us_from_datetime
from connectors.text import fold
from services.availability.intervals import Interval
from services.availability.rooms import Room, prepare, rooms_free
from services.contacts.checks import email_ok
from services.resources.checks import check_features
from services.runtime.context import Runtime
from services.runtime.errors import BadRequestBuilder
from services.runtime.names import parse_account
from services.runtime.validation import check_length

__all__ = [
    "DEFAULT_INCREMENT",
    "EXTRA_ROOMS",
    "MAX_ROOMS",
    "check_rooms",
    "load_rooms",
    "pick_rooms",
]

MAX_ROOMS = 50
# Without explain, the search stops once every slot has this many rooms more
# than it needs: alternatives to choose from, without reading every room.
EXTRA_ROOMS = 2
DEFAULT_INCREMENT = 15 * 60 * 1_000_000  # rooms need slots: a range says no room
_KIND = av_pb.RoomExclusionKind


def check_rooms(bad: BadRequestBuilder, rooms: av_pb.RoomQuery) -> None:
    if not rooms.parent:
        bad.add("rooms.parent", "is required")
    if not 0 <= rooms.count <= MAX_ROOMS:
        bad.add("rooms.count", f"must be from 0 to {MAX_ROOMS} (0: 1)")
    if rooms.min_capacity < 0:
        bad.add("rooms.min_capacity", "must not be negative")
    check_length(bad, "rooms.building", rooms.building, 256)
    check_features(bad, list(rooms.features), "rooms.features")
    if rooms.organizer and not email_ok(rooms.organizer):
        bad.add("rooms.organizer", "is not an email address")


def _why_not(r: rs_pb.Resource, q: av_pb.RoomQuery, duration: int) -> tuple[int, str] | None:
    """Why room ``r`` cannot serve the query at all; None when it may."""
    if r.category != rs_pb.Resource.CATEGORY_ROOM:
        return _KIND.ROOM_EXCLUSION_KIND_NOT_A_ROOM, ""
    if r.capacity < q.min_capacity:
        return _KIND.ROOM_EXCLUSION_KIND_TOO_SMALL, f"holds {r.capacity}"
    if q.building and fold(r.building) != fold(q.building):
        return _KIND.ROOM_EXCLUSION_KIND_OTHER_BUILDING, r.building
    has = {fold(f) for f in r.features}
    missing = [f for f in q.features if fold(f) not in has]
    if missing:
        return _KIND.ROOM_EXCLUSION_KIND_MISSING_FEATURE, ", ".join(missing)
    policy = r.booking_policy
    limit = policy.max_duration.ToTimedelta()
    if limit and duration > limit.total_seconds() * 1_000_000:
        return _KIND.ROOM_EXCLUSION_KIND_POLICY, f"bookings up to {limit}"
    if not booker_allowed(policy, q.organizer):
        return _KIND.ROOM_EXCLUSION_KIND_POLICY, "restricted to some bookers"
    return None


async def pick_rooms(
    rt: Runtime, q: av_pb.RoomQuery, duration: int
) -> tuple[list[rs_pb.Resource], list[av_pb.RoomExclusion]]:
    """The rooms that may serve the meeting, smallest first, and why the others may not."""
    _, account_id = rt.account(parse_account(q.parent, "rooms.parent").account, "rooms.parent")
    connector = await rt.connector(
        account_id, acc_pb.CAPABILITY_RESOURCES, acc_pb.CAPABILITY_BUSY_TIME
    )
    page = await connector.list_resources(account_id, ResourceFilter(), PageRequest(0))
    picked: list[rs_pb.Resource] = []
    excluded: list[av_pb.RoomExclusion] = []
    for r in page.items:
        why = _why_not(r, q, duration)
        if why is None:
            picked.append(r)
        elif r.category == rs_pb.Resource.CATEGORY_ROOM:  # other resources are not news
            kind, detail = why
            excluded.append(av_pb.RoomExclusion(resource=r.name, kind=kind, detail=detail))  # type: ignore[arg-type]
    # Smallest first: a meeting should not take the boardroom when a
    # small room does (and a search that stops early then offers those).
    picked.sort(key=lambda r: (r.capacity, r.display_name, r.name))
    return picked, excluded


async def load_rooms(
    rt: Runtime, q: av_pb.RoomQuery, picked: list[rs_pb.Resource], window: Interval,
    duration: int, explain: bool, wanted: list[Interval], target: int,
) -> list[Room]:  # fmt: skip
    """The busy time of ``picked`` rooms, in order, until each ``wanted`` slot has
    ``target`` of them free (0: every room, as ``explain`` needs)."""
    _, account_id = rt.account(parse_account(q.parent, "rooms.parent").account, "rooms.parent")
    connector = await rt.connector(
        account_id, acc_pb.CAPABILITY_RESOURCES, acc_pb.CAPABILITY_BUSY_TIME
    )
    now = dt.datetime.now(dt.UTC)
    rooms: list[Room] = []
    short = {slot: 0 for slot in wanted}  # slot -> rooms free so far
    for r in picked:
        if target and not short:
            break
        calendar_id = r.calendar.rsplit("/", 1)[1]
        calendar = await connector.get_calendar(account_id, calendar_id)
        zone = ZoneInfo(calendar.time_zone or "UTC")
        blocks = await connector.busy_blocks(
            account_id, calendar_id, from_us(window[0]), from_us(window[1]), zone, r.email,
            with_ids=explain,
        )  # fmt: skip
        off: list[Interval] = []
        ahead = r.booking_policy.max_advance.ToTimedelta()
        if ahead:
            # A booking may start up to the cutoff, so a slot may end a duration later.
            off.append((us_from_datetime(now + ahead) + duration, window[1] + 1))
        events = [(b.start_us, b.end_us, f"{r.calendar}/events/{b.event_id}") for b in blocks]
        room = Room(r.name, r.calendar, [(b.start_us, b.end_us) for b in blocks], off,
                    events if explain else [])  # fmt: skip
        rooms.append(room)
        if target:
            prepare([room], window)
            for slot in [s for s in short if rooms_free([room], *s)]:
                short[slot] += 1
                if short[slot] >= target:
                    del short[slot]
    return rooms
