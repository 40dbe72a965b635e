"""QueryAvailability with ``explain``: who was unavailable, when and why.

Each excluded interval inside the windows carries "every reason that applies
to the whole interval": the participant's label, the calendar, the kind, and
the blocking event with its title only when the event is not private.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from almanac.v1 import availability_service_pb2 as av_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import field_mask_pb2
from google.type import dayofweek_pb2

from tests.helpers import Almanac, TestAccount, on_each_store
from tests.services.availability.support import (
    AvailabilityClient,
    at,
    availability_fixture,  # noqa: F401  (the `availability` fixture)
    availability_processes_fixture,  # noqa: F401
    dur,
    trange,
    utc,
    weekly,
)

UTC = dt.UTC
K = av_pb.ExclusionKind
WORKDAYS = list(range(dayofweek_pb2.MONDAY, dayofweek_pb2.SATURDAY))
MONDAY = utc(2027, 1, 11)


def t(hour: int, minute: int = 0, days: int = 0) -> dt.datetime:
    return MONDAY + dt.timedelta(days=days, hours=hour, minutes=minute)


def when(value: Any) -> dt.datetime:
    return value.ToDatetime(UTC)


Row = tuple[dt.datetime, dt.datetime, set[tuple[str, str, int, str, str]]]


def rows(reply: av_pb.QueryAvailabilityResponse) -> list[Row]:
    return [
        (
            when(x.start_time),
            when(x.end_time),
            {(r.participant, r.calendar, r.kind, r.event, r.event_display_name) for r in x.reasons},
        )
        for x in reply.exclusions
    ]


class Setup:
    def __init__(self, account: TestAccount, availability: AvailabilityClient) -> None:
        self.account = account
        self.events = account.almanac.events()
        self.availability = availability(account.token("calendars:read"))

    def calendar(self, name: str, zone: str = "UTC") -> str:
        return str(self.account.create_calendar(name, time_zone=zone).name)

    def event(
        self, calendar: str, start: dt.datetime, end: dt.datetime, title: str, **fields: Any
    ) -> ev_pb.Event:
        return self.events.CreateEvent(
            ev_pb.CreateEventRequest(
                parent=calendar,
                event=ev_pb.Event(display_name=title, start=at(start), end=at(end), **fields),
            )
        )

    def office_hours(self, calendar: str) -> None:
        """09:00-17:00 on workdays in the calendar's zone."""
        self.account.almanac.calendars().CreateSchedule(
            cal_pb.CreateScheduleRequest(
                parent=calendar,
                schedule=cal_pb.Schedule(
                    display_name="Office", weekly_hours=weekly(WORKDAYS, 9 * 60, 17 * 60)
                ),
            )
        )

    def query(self, **fields: Any) -> av_pb.QueryAvailabilityResponse:
        fields.setdefault("explain", True)
        return self.availability.QueryAvailability(av_pb.QueryAvailabilityRequest(**fields))


@on_each_store
def test_each_excluded_interval_has_its_kind_participant_and_visible_event(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    s = Setup(account, availability)
    cal = s.calendar("Ada's", "Europe/Berlin")
    s.office_hours(cal)  # 09:00-17:00 Berlin: 08:00-16:00 UTC in January
    review = s.event(cal, t(10), t(11), "Review")  # visibility unspecified: the default
    launch = s.event(cal, t(15), t(15, 15), "Launch", visibility=ev_pb.VISIBILITY_PUBLIC)
    s.event(cal, t(12), t(12, 30), "Secret", visibility=ev_pb.VISIBILITY_PRIVATE)
    s.event(cal, t(13, 30), t(14), "Classified", visibility=ev_pb.VISIBILITY_CONFIDENTIAL)
    reply = s.query(
        participants=[av_pb.Participant(calendars=[cal], label="ada@example.com")],
        meeting_duration=dur(60),
        time_windows=[trange(t(7), t(17))],
        buffer_after=dur(15),
    )
    ada = "ada@example.com"

    def busy(event: ev_pb.Event | None, kind: int = K.EXCLUSION_KIND_BUSY) -> Any:
        if event is None:  # private: just "busy"
            return (ada, cal, kind, "", "")
        return (ada, cal, kind, event.name, event.display_name)

    off = (ada, "", K.EXCLUSION_KIND_OUTSIDE_WORKING_HOURS, "", "")
    short = ("", "", K.EXCLUSION_KIND_TOO_SHORT, "", "")
    assert rows(reply) == [
        (t(7), t(8), {off}),
        (t(10), t(11), {busy(review)}),
        (t(11), t(11, 15), {busy(review, K.EXCLUSION_KIND_BUFFER)}),
        (t(11, 15), t(12), {short}),  # 45 minutes free: shorter than the meeting
        (t(12), t(12, 30), {busy(None)}),
        (t(12, 30), t(12, 45), {busy(None, K.EXCLUSION_KIND_BUFFER)}),
        (t(12, 45), t(13, 30), {short}),
        (t(13, 30), t(14), {busy(None)}),
        (t(14), t(14, 15), {busy(None, K.EXCLUSION_KIND_BUFFER)}),
        (t(14, 15), t(15), {short}),
        (t(15), t(15, 15), {busy(launch)}),
        (t(15, 15), t(15, 30), {busy(launch, K.EXCLUSION_KIND_BUFFER)}),
        (t(15, 30), t(16), {short}),
        (t(16), t(17), {off}),
    ]
    assert [(when(a.start_time), when(a.end_time)) for a in reply.available_times] == [
        (t(8), t(10))
    ]
    # Without explain: no exclusions.
    quiet = s.query(
        participants=[av_pb.Participant(calendars=[cal], label=ada)],
        meeting_duration=dur(60),
        time_windows=[trange(t(7), t(17))],
        explain=False,
    )
    assert not quiet.exclusions


def test_default_label_is_the_first_calendar_and_instances_are_named(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    s = Setup(account, availability)
    cal = s.calendar("Team")
    series = s.event(
        cal, t(9), t(9, 30), "Standup", recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=5"])
    )
    reply = s.query(
        participants=[av_pb.Participant(calendars=[cal])],
        meeting_duration=dur(30),
        time_windows=[trange(t(9, days=2), t(10, days=2))],
    )
    instance = f"{series.name}_20270113T090000Z"
    assert rows(reply) == [
        (t(9, days=2), t(9, 30, days=2), {(cal, cal, K.EXCLUSION_KIND_BUSY, instance, "Standup")})
    ]


@on_each_store
def test_group_quorum_names_the_group_and_its_busy_members(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    s = Setup(account, availability)
    rooms = [s.calendar(name) for name in ("Ash", "Birch", "Cedar")]
    ash = s.event(rooms[0], t(9), t(12), "Ash booked")
    birch = s.event(rooms[1], t(10), t(14), "Birch booked")
    cedar = s.event(rooms[2], t(11), t(13), "Cedar booked")
    reply = s.query(
        groups=[
            av_pb.ParticipantGroup(
                participants=[
                    av_pb.Participant(calendars=[c], label=n)
                    for c, n in zip(rooms, ("ash", "birch", "cedar"), strict=True)
                ]
            )
        ],
        meeting_duration=dur(30),
        time_windows=[trange(t(9), t(15))],
    )
    quorum = ("groups[0]", "", K.EXCLUSION_KIND_GROUP_QUORUM, "", "")

    def busy(label: str, cal: str, event: ev_pb.Event) -> Any:
        return (label, cal, K.EXCLUSION_KIND_BUSY, event.name, event.display_name)

    assert rows(reply) == [
        (
            t(11),
            t(12),
            {
                quorum,
                busy("ash", rooms[0], ash),
                busy("birch", rooms[1], birch),
                busy("cedar", rooms[2], cedar),
            },
        )
    ]


def test_reasons_hold_for_the_whole_interval_with_overlapping_events(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    """An event cited for an interval must be busy over all of it: two
    overlapping events make three intervals, not one citing both."""
    s = Setup(account, availability)
    cal = s.calendar("Busy")
    long = s.event(cal, t(10), t(11), "Long")
    short = s.event(cal, t(10, 30), t(10, 45), "Short")
    reply = s.query(
        participants=[av_pb.Participant(calendars=[cal], label="ada")],
        meeting_duration=dur(30),
        time_windows=[trange(t(9), t(12))],
    )
    spans = {long.name: (t(10), t(11)), short.name: (t(10, 30), t(10, 45))}
    covered = [(a, b) for a, b, _ in rows(reply)]
    assert covered[0][0] == t(10) and covered[-1][1] == t(11)
    for start, end, reasons in rows(reply):
        for _, _, kind, event, _ in reasons:
            assert kind == K.EXCLUSION_KIND_BUSY
            busy_from, busy_to = spans[event]
            assert busy_from <= start and end <= busy_to, (
                f"{event.rsplit('/', 1)[1]} ({busy_from:%H:%M}-{busy_to:%H:%M}) is given as"
                f" the reason for {start:%H:%M}-{end:%H:%M}"
            )


def test_busy_time_outside_working_hours_gives_both_reasons(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    """Every reason that applies to the whole interval: an event in the
    evening is both busy time and outside the working hours."""
    s = Setup(account, availability)
    cal = s.calendar("Ada")
    s.office_hours(cal)  # 09:00-17:00 UTC
    dinner = s.event(cal, t(18), t(19), "Dinner")
    reply = s.query(
        participants=[av_pb.Participant(calendars=[cal], label="ada")],
        meeting_duration=dur(30),
        time_windows=[trange(t(16), t(20))],
    )
    busy = ("ada", cal, K.EXCLUSION_KIND_BUSY, dinner.name, "Dinner")
    off = ("ada", "", K.EXCLUSION_KIND_OUTSIDE_WORKING_HOURS, "", "")
    for start, end, reasons in rows(reply):
        if start < t(19) and end > t(18):  # the dinner
            assert t(18) <= start and end <= t(19)
            assert reasons == {busy, off}, f"{start:%H:%M}-{end:%H:%M}: {reasons}"
    covered = [(a, b) for a, b, _ in rows(reply)]
    assert covered[0] == (t(17), t(18)) and covered[-1][1] == t(20)


def test_a_private_series_hides_its_instances_unless_one_is_made_public(
    almanac: Almanac, account: TestAccount, availability: AvailabilityClient
) -> None:
    s = Setup(account, availability)
    cal = s.calendar("Private")
    series = s.event(
        cal,
        t(9),
        t(10),
        "Therapy",
        visibility=ev_pb.VISIBILITY_PRIVATE,
        recurrence=ev_pb.Recurrence(rrules=["FREQ=DAILY;COUNT=3"]),
    )
    opened = f"{series.name}_20270112T090000Z"
    s.events.UpdateEvent(
        ev_pb.UpdateEventRequest(
            event=ev_pb.Event(
                name=opened, display_name="Open day", visibility=ev_pb.VISIBILITY_PUBLIC
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name", "visibility"]),
        )
    )
    reply = s.query(
        participants=[av_pb.Participant(calendars=[cal], label="ada")],
        meeting_duration=dur(30),
        time_windows=[trange(t(9, days=d), t(10, days=d)) for d in range(3)],
    )
    busy = K.EXCLUSION_KIND_BUSY
    assert rows(reply) == [
        (t(9), t(10), {("ada", cal, busy, "", "")}),
        (t(9, days=1), t(10, days=1), {("ada", cal, busy, opened, "Open day")}),
        (t(9, days=2), t(10, days=2), {("ada", cal, busy, "", "")}),
    ]
