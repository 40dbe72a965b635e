"""AvailabilityService end to end: request validation, permissions, unknown calendars.

Every limit of the service comment is INVALID_ARGUMENT naming the field (and
several wrong fields are all named at once); a calendar the token may not
read is PERMISSION_DENIED, never silently left out, across accounts; an
unknown calendar is NOT_FOUND.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from almanac.v1 import availability_service_pb2 as av_pb

from tests.helpers import Almanac, TestAccount, expect_error, on_each_store
from tests.services.availability.support import (
    AvailabilityClient,
    availability_fixture,  # noqa: F401  (the `availability` fixture)
    availability_processes_fixture,  # noqa: F401
    dur,
    trange,
    utc,
)

Code = grpc.StatusCode
MONDAY = utc(2027, 1, 11)  # a Monday, after "now" in these tests' world
HOUR = 60
DAY = 24 * HOUR


def at(hour: int, minute: int = 0, days: int = 0) -> dt.datetime:
    return MONDAY + dt.timedelta(days=days, hours=hour, minutes=minute)


def query(calendars: list[str] | None = None, **fields: Any) -> av_pb.QueryAvailabilityRequest:
    fields.setdefault("meeting_duration", dur(30))
    fields.setdefault("time_windows", [trange(at(9), at(17))])
    if calendars is not None:
        fields.setdefault("participants", [av_pb.Participant(calendars=calendars)])
    return av_pb.QueryAvailabilityRequest(**fields)


def invalid(call: Callable[[], Any]) -> set[str]:
    return expect_error(Code.INVALID_ARGUMENT, call).fields


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        # meeting_duration: 1 minute to 24 hours, whole minutes, required.
        (dict(meeting_duration=None), "meeting_duration"),
        (dict(meeting_duration=dur(0)), "meeting_duration"),
        (dict(meeting_duration=dur(-30)), "meeting_duration"),
        (dict(meeting_duration=dur(seconds=30)), "meeting_duration"),
        (dict(meeting_duration=dur(90, seconds=30)), "meeting_duration"),
        (
            dict(meeting_duration=dur(DAY + 1), time_windows=[trange(at(0), at(0, days=3))]),
            "meeting_duration",
        ),
        # Longer than every window.
        (
            dict(
                meeting_duration=dur(61),
                time_windows=[trange(at(9), at(10)), trange(at(11), at(12))],
            ),
            "meeting_duration",
        ),
        # Windows: at least one, end after start, no overlap, 90 days, 100 of them.
        (dict(time_windows=[]), "time_windows"),
        (dict(time_windows=[trange(at(17), at(9))]), "time_windows[0].end_time"),
        (
            dict(time_windows=[trange(at(9), at(10)), trange(at(12), at(12))]),
            "time_windows[1].end_time",
        ),
        (dict(time_windows=[trange(at(9), at(12)), trange(at(11), at(13))]), "time_windows"),
        (  # overlapping even when given out of order
            dict(
                time_windows=[trange(at(11), at(13)), trange(at(8), at(9)), trange(at(9), at(12))]
            ),
            "time_windows",
        ),
        (
            dict(time_windows=[trange(at(9), at(10)), trange(at(9), at(10, days=90))]),
            "time_windows",
        ),
        (
            dict(time_windows=[trange(at(9, days=90), at(10, days=90)), trange(at(9), at(10))]),
            "time_windows",
        ),
        (
            dict(time_windows=[trange(at(0, 90 * i), at(0, 90 * i + 60)) for i in range(101)]),
            "time_windows",
        ),
        # Buffers: 0 to 4 hours, whole minutes.
        (dict(buffer_before=dur(4 * HOUR + 1)), "buffer_before"),
        (dict(buffer_before=dur(-5)), "buffer_before"),
        (dict(buffer_after=dur(5 * HOUR)), "buffer_after"),
        (dict(buffer_after=dur(-1)), "buffer_after"),
        (dict(buffer_after=dur(seconds=90)), "buffer_after"),
        # Increment: unset or 0, else 1 minute to 24 hours, whole minutes.
        (dict(time_slot_increment=dur(seconds=30)), "time_slot_increment"),
        (dict(time_slot_increment=dur(-15)), "time_slot_increment"),
        (dict(time_slot_increment=dur(DAY + 1)), "time_slot_increment"),
        # max_results: 0 (100) to 1000.
        (dict(max_results=-1), "max_results"),
        (dict(max_results=1001), "max_results"),
        # time_zone: IANA.
        (dict(time_zone="Mars/Olympus_Mons"), "time_zone"),
        (dict(time_zone="CEST+2"), "time_zone"),
    ],
)
def test_each_limit_is_invalid_argument_naming_the_field(
    almanac: Almanac,
    account: TestAccount,
    availability: AvailabilityClient,
    fields: dict[str, Any],
    field: str,
) -> None:
    request = query([account.primary], **{k: v for k, v in fields.items() if v is not None})
    if fields.get("meeting_duration", 0) is None:
        request.ClearField("meeting_duration")
    assert field in invalid(lambda: availability().QueryAvailability(request))


@pytest.mark.parametrize(
    "fields",
    [
        dict(meeting_duration=dur(1)),
        dict(meeting_duration=dur(DAY), time_windows=[trange(at(0), at(0, days=1))]),
        dict(time_windows=[trange(at(9), at(10)), trange(at(10), at(11))]),  # touching
        dict(time_windows=[trange(at(9, days=89), at(9, days=90)), trange(at(9), at(10))]),
        dict(time_windows=[trange(at(0, 90 * i), at(0, 90 * i + 60)) for i in range(100)]),
        dict(buffer_before=dur(4 * HOUR), buffer_after=dur(4 * HOUR)),
        dict(time_slot_increment=dur(1)),
        dict(time_slot_increment=dur(DAY)),
        dict(max_results=1000),
        dict(max_results=1),
        dict(time_zone="America/Argentina/Buenos_Aires"),
    ],
)
def test_values_at_the_limits_are_accepted(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient, fields: dict[str, Any]
) -> None:
    reply = availability().QueryAvailability(query([account.primary], **fields))
    assert reply.available_times


def test_every_wrong_field_is_named_at_once(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    request = av_pb.QueryAvailabilityRequest(
        participants=[
            av_pb.Participant(calendars=[]),
            av_pb.Participant(calendars=[account.primary]),
        ],
        groups=[
            av_pb.ParticipantGroup(participants=[], minimum_free=0),
            av_pb.ParticipantGroup(
                participants=[av_pb.Participant(calendars=[account.primary])], minimum_free=2
            ),
        ],
        meeting_duration=dur(seconds=10),
        time_windows=[trange(at(12), at(11)), trange(at(9), at(10)), trange(at(9, 30), at(11))],
        time_slot_increment=dur(DAY + 60),
        buffer_before=dur(241),
        buffer_after=dur(-1),
        max_results=5000,
        time_zone="Nowhere/Special",
    )
    assert invalid(lambda: availability().QueryAvailability(request)) >= {
        "participants[0].calendars",
        "groups[0].participants",
        "groups[1].minimum_free",
        "meeting_duration",
        "time_windows[0].end_time",
        "time_windows",
        "time_slot_increment",
        "buffer_before",
        "buffer_after",
        "max_results",
        "time_zone",
    }


@pytest.mark.parametrize("minimum", [-1, 4])
def test_group_minimum_free_is_between_one_and_the_group_size(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient, minimum: int
) -> None:
    rooms = [account.create_calendar(f"Room {i}").name for i in range(3)]
    request = query(
        groups=[
            av_pb.ParticipantGroup(
                participants=[av_pb.Participant(calendars=[r]) for r in rooms],
                minimum_free=minimum,
            )
        ]
    )
    assert invalid(lambda: availability().QueryAvailability(request)) == {"groups[0].minimum_free"}
    for ok in (0, 1, 3):  # 0 is the default, 1
        request.groups[0].minimum_free = ok
        assert availability().QueryAvailability(request).available_times


def test_more_than_fifty_calendars_in_all_is_invalid(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    cal = account.primary
    # 51 participants of one calendar each.
    many = query(participants=[av_pb.Participant(calendars=[cal]) for _ in range(51)])
    assert "participants" in invalid(lambda: availability().QueryAvailability(many))
    # One participant with 51 calendars.
    wide = query(participants=[av_pb.Participant(calendars=[cal] * 51)])
    assert "participants" in invalid(lambda: availability().QueryAvailability(wide))
    # 30 required plus 21 in a group.
    mixed = query(
        participants=[av_pb.Participant(calendars=[cal]) for _ in range(30)],
        groups=[av_pb.ParticipantGroup(participants=[av_pb.Participant(calendars=[cal])] * 21)],
    )
    assert "participants" in invalid(lambda: availability().QueryAvailability(mixed))
    # Exactly 50 is fine.
    fifty = query(
        participants=[av_pb.Participant(calendars=[cal]) for _ in range(30)],
        groups=[av_pb.ParticipantGroup(participants=[av_pb.Participant(calendars=[cal])] * 20)],
    )
    assert availability().QueryAvailability(fifty).available_times


def test_malformed_calendar_name_is_invalid_argument(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    request = query(
        groups=[
            av_pb.ParticipantGroup(
                participants=[av_pb.Participant(calendars=[account.primary, "calendars/primary"])]
            )
        ]
    )
    fields = invalid(lambda: availability().QueryAvailability(request))
    assert fields == {"groups[0].participants[0].calendars[1]"}


def test_label_longer_than_256_characters_is_invalid(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    request = query(participants=[av_pb.Participant(calendars=[account.primary], label="x" * 257)])
    assert invalid(lambda: availability().QueryAvailability(request)) == {"participants[0].label"}


# --- permissions and existence ------------------------------------------------------------


@on_each_store
def test_calendar_of_another_account_needs_a_token_granted_both(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    other = TestAccount(almanac, almanac.create_local_account(display_name="Other"))
    mine_only = account.token("calendars:read")
    both = almanac.token(["calendars:read"], [account.name, other.name])
    request = query([account.primary, other.primary])
    # Never silently skipped: the unreadable calendar fails the whole query.
    failure = expect_error(
        Code.PERMISSION_DENIED, lambda: availability(mine_only).QueryAvailability(request)
    )
    assert other.id in failure.message or "participants[0].calendars[1]" in failure.message
    assert availability(both).QueryAvailability(request).available_times
    # The same in an optional group, and for free/busy.
    grouped = query(
        groups=[
            av_pb.ParticipantGroup(
                participants=[
                    av_pb.Participant(calendars=[account.primary]),
                    av_pb.Participant(calendars=[other.primary]),
                ]
            )
        ]
    )
    expect_error(Code.PERMISSION_DENIED, lambda: availability(mine_only).QueryAvailability(grouped))
    assert availability(both).QueryAvailability(grouped).available_times
    free_busy = av_pb.QueryFreeBusyRequest(
        calendars=[account.primary, other.primary], time_range=trange(at(0), at(0, days=1))
    )
    expect_error(Code.PERMISSION_DENIED, lambda: availability(mine_only).QueryFreeBusy(free_busy))
    assert len(availability(both).QueryFreeBusy(free_busy).calendars) == 2


def test_a_token_without_the_read_scope_is_denied(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    token = account.token("contacts:read")
    expect_error(
        Code.PERMISSION_DENIED,
        lambda: availability(token).QueryAvailability(query([account.primary])),
    )
    expect_error(
        Code.PERMISSION_DENIED,
        lambda: availability(token).QueryFreeBusy(
            av_pb.QueryFreeBusyRequest(
                calendars=[account.primary], time_range=trange(at(0), at(12))
            )
        ),
    )
    for scope in ("calendars:read", "calendars:write", "calendars:admin"):
        reply = availability(account.token(scope)).QueryAvailability(query([account.primary]))
        assert reply.available_times


def test_no_token_is_unauthenticated(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    expect_error(
        Code.UNAUTHENTICATED,
        lambda: availability(None).QueryAvailability(query([account.primary])),
    )


def test_unknown_calendar_is_not_found(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    token = account.token("calendars:read")
    missing = account.calendar_name("no-such-calendar")
    expect_error(
        Code.NOT_FOUND,
        lambda: availability(token).QueryAvailability(query([account.primary, missing])),
    )
    expect_error(
        Code.NOT_FOUND,
        lambda: availability(token).QueryFreeBusy(
            av_pb.QueryFreeBusyRequest(calendars=[missing], time_range=trange(at(0), at(12)))
        ),
    )
    # An account that does not exist: NOT_FOUND for a token that may see every
    # account, PERMISSION_DENIED (permission before existence) for one that may not.
    ghost = "accounts/t-0000000000000000/calendars/primary"
    expect_error(Code.NOT_FOUND, lambda: availability().QueryAvailability(query([ghost])))
    expect_error(
        Code.PERMISSION_DENIED, lambda: availability(token).QueryAvailability(query([ghost]))
    )


# --- QueryFreeBusy validation ----------------------------------------------------------------


def test_free_busy_validation(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    def fb(**fields: Any) -> set[str]:
        fields.setdefault("calendars", [account.primary])
        request = av_pb.QueryFreeBusyRequest(**fields)
        return invalid(lambda: availability().QueryFreeBusy(request))

    assert "time_range" in fb(time_range=trange(at(0), at(0, days=90) + dt.timedelta(minutes=1)))
    assert "time_range" in fb()
    assert "time_range.end_time" in fb(time_range=trange(at(12), at(11)))
    assert "calendars" in fb(calendars=[], time_range=trange(at(0), at(12)))
    assert "calendars" in fb(calendars=[account.primary] * 51, time_range=trange(at(0), at(12)))
    both = fb(calendars=[], time_range=trange(at(12), at(11)))
    assert both >= {"calendars", "time_range.end_time"}
    # Exactly 90 days and 50 calendars are fine.
    reply = availability().QueryFreeBusy(
        av_pb.QueryFreeBusyRequest(
            calendars=[account.primary] * 50, time_range=trange(at(0), at(0, days=90))
        )
    )
    assert len(reply.calendars) == 50


@pytest.mark.parametrize(
    ("start", "end", "extra"),
    [
        (dt.datetime(1, 1, 1, tzinfo=dt.UTC), dt.datetime(1, 1, 1, 2, tzinfo=dt.UTC), {}),
        (
            dt.datetime(1, 1, 1, tzinfo=dt.UTC),
            dt.datetime(1, 1, 1, 2, tzinfo=dt.UTC),
            {"buffer_before": dur(60)},
        ),
        (
            dt.datetime(9999, 12, 31, 20, tzinfo=dt.UTC),
            dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.UTC),
            {},
        ),
    ],
    ids=["year-1", "year-1-buffer", "year-9999"],
)
def test_windows_at_the_ends_of_the_accepted_range_are_answered(
    almanac: Almanac,
    account: TestAccount,
    availability: AvailabilityClient,
    start: dt.datetime,
    end: dt.datetime,
    extra: dict[str, Any],
) -> None:
    """The validation accepts times from year 1 to 9999; such a query is
    answered (here: all free), never INTERNAL."""
    reply = availability().QueryAvailability(
        query([account.primary], time_windows=[trange(start, end)], **extra)
    )
    assert [
        (a.start_time.ToDatetime(dt.UTC), a.end_time.ToDatetime(dt.UTC))
        for a in reply.available_times
    ] == [(start, end)]
    free_busy = availability().QueryFreeBusy(
        av_pb.QueryFreeBusyRequest(calendars=[account.primary], time_range=trange(start, end))
    )
    assert [c.calendar for c in free_busy.calendars] == [account.primary]
    assert not free_busy.calendars[0].busy
