"""Room finding in QueryAvailability: the engine against a brute-force oracle,
then the real services (rooms, their bookings, filters, policies, explain)."""

from __future__ import annotations

import datetime as dt

import grpc
from almanac.v1 import availability_service_pb2 as av_pb
from almanac.v1 import event_service_pb2 as ev_pb
from almanac.v1 import resource_service_pb2 as rs_pb
from google.protobuf import duration_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.availability import engine
from services.availability.rooms import Room
from tests.helpers import Almanac, TestAccount, expect_error, on_each_store
from tests.services.availability.room_oracle import RoomAsk, RoomSlot, solve_rooms
from tests.services.availability.support import (
    AvailabilityClient,
    availability_fixture,  # noqa: F401  (the `availability` fixture)
    availability_processes_fixture,  # noqa: F401
    dur,
    trange,
)
from tests.services.contacts.support import (
    Directory,
    directory_fixture,
    directory_processes_fixture,
)
from tests.services.events.support import at
from tests.services.resources.booking_support import base_time, book, make_room

__all__ = ["directory_fixture", "directory_processes_fixture"]

MIN_US = 60_000_000
ENGINE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _spans(draw: st.DrawFn, lo: int, hi: int, most: int) -> list[tuple[int, int]]:
    out = []
    for _ in range(draw(st.integers(0, most))):
        s = draw(st.integers(lo, hi - 1))
        out.append((s, min(hi, s + draw(st.integers(1, 180)))))
    return out


@st.composite
def asks(draw: st.DrawFn) -> RoomAsk:
    lo, hi = 0, 24 * 60
    cuts = sorted(draw(st.sets(st.integers(lo, hi), min_size=2, max_size=6)))
    windows = [(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if b > a]
    if not windows:
        windows = [(lo, hi)]
    rooms = [
        (f"r{i}", _spans(draw, lo, hi, 6), _spans(draw, lo, hi, 1) if i % 3 == 0 else [])
        for i in range(draw(st.integers(0, 6)))
    ]
    return RoomAsk(
        windows=windows,
        duration=draw(st.sampled_from([15, 30, 45, 60, 90])),
        increment=draw(st.sampled_from([5, 15, 30, 60])),
        count=draw(st.integers(1, 3)),
        people=[_spans(draw, lo, hi, 5) for _ in range(draw(st.integers(0, 2)))],
        rooms=rooms,
        buffer=draw(st.sampled_from([0, 0, 10])),
        max_results=draw(st.sampled_from([5, 1000])),
    )


def _us(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return [(s * MIN_US, e * MIN_US) for s, e in spans]


@ENGINE
@given(asks())
def test_engine_matches_the_oracle(ask: RoomAsk) -> None:
    people = [
        engine.Participant(f"p{i}", [], None, _us(list(busy))) for i, busy in enumerate(ask.people)
    ]
    rooms = [
        Room(label, "cal", _us(list(busy)), _us(list(off)),
             [(s * MIN_US, e * MIN_US, f"{label}/e{j}") for j, (s, e) in enumerate(busy)])
        for label, busy, off in ask.rooms
    ]  # fmt: skip
    result = engine.solve(
        engine.Query(
            windows=_us(list(ask.windows)),
            duration=ask.duration * MIN_US,
            increment=ask.increment * MIN_US,
            buffer_before=ask.buffer * MIN_US,
            buffer_after=ask.buffer * MIN_US,
            max_results=ask.max_results,
            explain=True,
            required=people,
            groups=[],
            rooms=rooms,
            room_count=ask.count,
        )
    )
    expected, roomless = solve_rooms(ask)
    got = [RoomSlot(s.start // MIN_US, s.end // MIN_US, s.free_rooms) for s in result.slots]
    assert got == expected
    # Explain: every slot the people could make but the rooms could not is
    # given, with NO_ROOM and the bookings of the rooms that are busy in it.
    no_room = [
        x for x in result.exclusions
        if any(r.kind == av_pb.EXCLUSION_KIND_NO_ROOM for r in x.reasons)
    ]  # fmt: skip
    shown = [(x.start // MIN_US, x.end // MIN_US) for x in no_room]
    assert shown == roomless[: len(shown)]
    if not result.truncated:
        assert shown == roomless
    for x in no_room:
        a, b = x.start // MIN_US, x.end // MIN_US
        busy_rooms = {r.participant for r in x.reasons if r.kind == av_pb.EXCLUSION_KIND_BUSY}
        for label, busy, _ in ask.rooms:
            assert (label in busy_rooms) == any(s < b and e > a for s, e in busy)


# --- end to end ------------------------------------------------------------------------


def _rooms(directory: Directory, account: TestAccount) -> dict[str, rs_pb.Resource]:
    specs = {
        "small": {"capacity": 2, "features": ["phone"]},
        "big": {"capacity": 12, "features": ["projector", "phone"]},
        "annex": {"capacity": 12, "building": "Annex", "features": ["projector"]},
        "mid": {"capacity": 8, "features": ["Projector"]},
        "vip": {
            "capacity": 20,
            "features": ["projector"],
            "booking_policy": rs_pb.BookingPolicy(allowed_bookers=["@boss.example"]),
        },
        "short": {
            "capacity": 10,
            "features": ["projector"],
            "booking_policy": rs_pb.BookingPolicy(max_duration=duration_pb2.Duration(seconds=1800)),
        },
    }
    out = {
        key: make_room(directory, account, key.capitalize(), building=spec.pop("building", "HQ"),
                       **spec)
        for key, spec in specs.items()
    }  # fmt: skip
    out["car"] = directory.resources().CreateResource(
        rs_pb.CreateResourceRequest(
            parent=account.name,
            resource=rs_pb.Resource(display_name="Car", email="car@x.example", capacity=30),
        )
    )
    return out


@on_each_store
def test_query_finds_rooms_and_explains(
    almanac: Almanac, directory: Directory, availability: AvailabilityClient,
    account: TestAccount,
) -> None:  # fmt: skip
    rooms = _rooms(directory, account)
    t0 = base_time() + dt.timedelta(hours=9)
    # Big is booked 9-10, mid 9:30-10:30 (from another calendar, so that the
    # person stays free); the person is busy 11-12.
    other = account.create_calendar("Bookings").name
    book(account, rooms["big"], t0, calendar=other)
    book(account, rooms["mid"], t0 + dt.timedelta(minutes=30), calendar=other)
    almanac.events().CreateEvent(
        ev_pb.CreateEventRequest(
            parent=account.primary,
            event=ev_pb.Event(display_name="Busy", start=at(t0 + dt.timedelta(hours=2), "UTC"),
                              end=at(t0 + dt.timedelta(hours=3), "UTC")),
        )
    )  # fmt: skip
    request = av_pb.QueryAvailabilityRequest(
        participants=[av_pb.Participant(calendars=[account.primary], ignore_working_hours=True)],
        meeting_duration=dur(60),
        time_windows=[trange(t0, t0 + dt.timedelta(hours=4))],
        time_slot_increment=dur(30),
        rooms=av_pb.RoomQuery(parent=account.name, min_capacity=6, building="hq",
                              features=["PROJECTOR"]),
        explain=True,
    )  # fmt: skip
    reply = availability().QueryAvailability(request)
    big, mid = rooms["big"].name, rooms["mid"].name
    got = [(int((s.start_time.seconds - t0.timestamp()) // 60), list(s.free_rooms))
           for s in reply.available_times]  # fmt: skip
    assert got == [(60, [big]), (180, [mid, big])], got  # smallest first
    why = {x.resource: x.kind for x in reply.room_exclusions}
    K = av_pb.RoomExclusionKind
    assert why == {
        rooms["small"].name: K.ROOM_EXCLUSION_KIND_TOO_SMALL,
        rooms["annex"].name: K.ROOM_EXCLUSION_KIND_OTHER_BUILDING,
        rooms["vip"].name: K.ROOM_EXCLUSION_KIND_POLICY,
        rooms["short"].name: K.ROOM_EXCLUSION_KIND_POLICY,
    }
    no_room = [x for x in reply.exclusions
               if any(r.kind == av_pb.EXCLUSION_KIND_NO_ROOM for r in x.reasons)]  # fmt: skip
    assert [int((x.start_time.seconds - t0.timestamp()) // 60) for x in no_room] == [0, 30]
    busy_rooms = {r.participant for r in no_room[0].reasons if r.kind == av_pb.EXCLUSION_KIND_BUSY}
    assert busy_rooms == {big, mid}
    # Two rooms at once, allowed bookers, and a feature nobody has.
    request.rooms.count = 2
    request.rooms.organizer = "ceo@boss.example"
    request.explain = False
    reply = availability().QueryAvailability(request)
    got = [(int((s.start_time.seconds - t0.timestamp()) // 60), len(s.free_rooms))
           for s in reply.available_times]  # fmt: skip
    assert got == [(60, 2), (180, 3)], got
    request.rooms.features.append("sauna")
    assert list(availability().QueryAvailability(request).available_times) == []


def test_bad_room_queries(
    almanac: Almanac, availability: AvailabilityClient, account: TestAccount
) -> None:
    t0 = base_time()
    failure = expect_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda: availability().QueryAvailability(
            av_pb.QueryAvailabilityRequest(
                meeting_duration=dur(30),
                time_windows=[trange(t0, t0 + dt.timedelta(hours=2))],
                max_results=-1,
                rooms=av_pb.RoomQuery(count=51, min_capacity=-2, features=[""],
                                      organizer="nope"),
            )
        ),
    )  # fmt: skip
    assert failure.fields == {
        "max_results", "rooms.parent", "rooms.count", "rooms.min_capacity", "rooms.features[0]",
        "rooms.organizer",
    }  # fmt: skip


def test_search_stops_at_enough_rooms_unless_explaining(
    almanac: Almanac, directory: Directory, availability: AvailabilityClient,
    account: TestAccount,
) -> None:  # fmt: skip
    sizes = [12, 4, 10, 6, 8, 20]
    names = {make_room(directory, account, f"R{size}", capacity=size).name: size for size in sizes}
    by_size = sorted(names, key=names.__getitem__)
    t0 = base_time() + dt.timedelta(hours=9)
    request = av_pb.QueryAvailabilityRequest(
        participants=[av_pb.Participant(calendars=[account.primary], ignore_working_hours=True)],
        meeting_duration=dur(60),
        time_windows=[trange(t0, t0 + dt.timedelta(hours=2))],
        rooms=av_pb.RoomQuery(parent=account.name, min_capacity=5),
    )
    reply = availability().QueryAvailability(request)
    assert len(reply.available_times) == 5  # 9:00 .. 10:00 every 15 minutes
    # Enough for one room plus two alternatives, smallest first.
    assert all(list(t.free_rooms) == by_size[1:4] for t in reply.available_times)
    request.explain = True
    reply = availability().QueryAvailability(request)
    assert all(list(t.free_rooms) == by_size[1:] for t in reply.available_times)
    assert [x.kind for x in reply.room_exclusions] == [av_pb.ROOM_EXCLUSION_KIND_TOO_SMALL]
