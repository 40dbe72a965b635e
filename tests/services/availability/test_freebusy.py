"""AvailabilityService.QueryFreeBusy end to end.

One entry per requested calendar, in request order and named as requested;
busy intervals in start order, merged where they touch or overlap, flagged
tentative when only tentative events make them busy; the same busy rules as
QueryAvailability (cancelled and transparent events are free, all-day
events block the calendar's local day, series are expanded).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from almanac.v1 import availability_service_pb2 as av_pb
from almanac.v1 import event_service_pb2 as ev_pb

from tests.helpers import Almanac, TestAccount, on_each_store
from tests.services.availability.support import (
    AvailabilityClient,
    at,
    availability_fixture,  # noqa: F401  (the `availability` fixture)
    availability_processes_fixture,  # noqa: F401
    day,
    local,
    trange,
    utc,
)

UTC = dt.UTC
MONDAY = utc(2027, 1, 11)
TENTATIVE = ev_pb.EVENT_STATUS_TENTATIVE


def t(hour: int, minute: int = 0, days: int = 0) -> dt.datetime:
    return MONDAY + dt.timedelta(days=days, hours=hour, minutes=minute)


def busy(entry: av_pb.CalendarBusy) -> list[tuple[dt.datetime, dt.datetime, bool]]:
    return [
        (b.start_time.ToDatetime(UTC), b.end_time.ToDatetime(UTC), b.tentative) for b in entry.busy
    ]


class Setup:
    def __init__(self, account: TestAccount, availability: AvailabilityClient) -> None:
        self.account = account
        self.events = account.almanac.events()
        self.availability = availability(account.token("calendars:read"))

    def calendar(self, name: str, zone: str = "UTC") -> str:
        return str(self.account.create_calendar(name, time_zone=zone).name)

    def event(self, calendar: str, start: dt.datetime, end: dt.datetime, **fields: Any) -> None:
        self.events.CreateEvent(
            ev_pb.CreateEventRequest(
                parent=calendar, event=ev_pb.Event(start=at(start), end=at(end), **fields)
            )
        )

    def free_busy(
        self, calendars: list[str], start: dt.datetime, end: dt.datetime
    ) -> av_pb.QueryFreeBusyResponse:
        return self.availability.QueryFreeBusy(
            av_pb.QueryFreeBusyRequest(calendars=calendars, time_range=trange(start, end))
        )


@on_each_store
def test_busy_intervals_per_calendar_in_request_order_merged(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    s = Setup(account, availability)
    a, b, empty = s.calendar("A"), s.calendar("B"), s.calendar("Empty")
    s.event(a, t(9), t(10))
    s.event(a, t(10), t(11))  # touches: merged
    s.event(a, t(13), t(15))
    s.event(a, t(14), t(14, 30))  # inside: merged
    s.event(a, t(14, 45), t(16))  # overlaps: merged
    s.event(a, t(17), t(18))
    s.event(b, t(12), t(12, 30))
    reply = s.free_busy([b, "accounts/me/calendars/primary", a, empty, b], t(0), t(24))
    assert [e.calendar for e in reply.calendars] == [
        b,
        "accounts/me/calendars/primary",  # as named in the request
        a,
        empty,
        b,
    ]
    assert busy(reply.calendars[0]) == [(t(12), t(12, 30), False)]
    assert busy(reply.calendars[1]) == []
    assert busy(reply.calendars[2]) == [
        (t(9), t(11), False),
        (t(13), t(16), False),
        (t(17), t(18), False),
    ]
    assert busy(reply.calendars[3]) == []
    assert busy(reply.calendars[4]) == busy(reply.calendars[0])


def test_tentative_only_where_nothing_confirmed_is_busy(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    s = Setup(account, availability)
    cal = s.calendar("Cal")
    s.event(cal, t(9), t(10), status=TENTATIVE)
    s.event(cal, t(10), t(10, 30), status=TENTATIVE)  # touching tentative: merged
    s.event(cal, t(12), t(13))
    s.event(cal, t(12, 30), t(14), status=TENTATIVE)  # tentative past the confirmed end
    s.event(cal, t(15), t(17), status=TENTATIVE)
    s.event(cal, t(15, 30), t(16))  # confirmed inside a tentative block
    reply = s.free_busy([cal], t(0), t(24))
    assert busy(reply.calendars[0]) == [
        (t(9), t(10, 30), True),
        (t(12), t(13), False),
        (t(13), t(14), True),
        (t(15), t(15, 30), True),
        (t(15, 30), t(16), False),
        (t(16), t(17), True),
    ]


@on_each_store
def test_same_busy_rules_as_availability(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    s = Setup(account, availability)
    cal = s.calendar("New York", "America/New_York")
    s.event(cal, t(1), t(2), status=ev_pb.EVENT_STATUS_CANCELLED)
    s.event(cal, t(2), t(3), transparent=True)
    s.events.CreateEvent(  # all-day Tuesday in New York: 05:00 UTC to 05:00 UTC
        ev_pb.CreateEventRequest(
            parent=cal, event=ev_pb.Event(display_name="Holiday", start=day(dt.date(2027, 1, 12)))
        )
    )
    s.events.CreateEvent(  # transparent all-day: free
        ev_pb.CreateEventRequest(
            parent=cal,
            event=ev_pb.Event(start=day(dt.date(2027, 1, 14)), transparent=True),
        )
    )
    first = local("Europe/Berlin", 2027, 1, 11, 20)  # daily 20:00 Berlin = 19:00 UTC
    s.event(
        cal,
        first,
        first + dt.timedelta(minutes=30),
        recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=3"]),
    )
    reply = s.free_busy([cal], t(0), t(0, days=5))
    assert busy(reply.calendars[0]) == [
        (t(19), t(19, 30), False),
        (t(5, days=1), t(5, days=2), False),  # the holiday, with Tuesday's 19:00 inside it
        (t(19, days=2), t(19, 30, days=2), False),
    ]


def test_intervals_are_clipped_to_the_range(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    s = Setup(account, availability)
    cal = s.calendar("Cal")
    s.event(cal, t(8), t(10))
    s.event(cal, t(16), t(20), status=TENTATIVE)
    s.event(cal, t(21), t(22))  # after the range
    reply = s.free_busy([cal], t(9), t(18))
    assert busy(reply.calendars[0]) == [(t(9), t(10), False), (t(16), t(18), True)]
