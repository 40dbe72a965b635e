"""Batched busy reads (`busy_blocks_many`, `busy_spans_many`) and their cache.

Two calendars in different zones hold what busy time has rules for: timed,
all-day and floating events, tentative, transparent, cancelled and declined
ones, a weekly series across a DST change with a moved and a cancelled
instance, and an endless series read past its materialized horizon. The
batch must answer exactly what one read per calendar answers, the spans
exactly the blocks' ranges, and a cached answer must follow every write.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from almanac.v1 import calendar_service_pb2 as cal_pb

from connectors.base import BusyBlock, BusyRead, WriteContext
from connectors.ical.document import from_ics
from connectors.local import LocalConnector
from connectors.local.events.busy_cache import BusyCache
from connectors.store import Store
from services.calendars.ics import storable

ACCOUNT = "acc"
BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
ME = "Me@Example.com"  # declined events do not block this participant (any case)
CTX = WriteContext(actor="test")
# March 2027: Europe changes to summer time on the 28th, New York on the 14th.
START, END = datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC)

_BERLIN_EVENTS = """\
BEGIN:VEVENT
UID:timed
DTSTART;TZID=Europe/Berlin:20270302T090000
DTEND;TZID=Europe/Berlin:20270302T100000
END:VEVENT
BEGIN:VEVENT
UID:all-day
DTSTART;VALUE=DATE:20270303
DTEND;VALUE=DATE:20270304
END:VEVENT
BEGIN:VEVENT
UID:floating
DTSTART:20270304T120000
DTEND:20270304T130000
END:VEVENT
BEGIN:VEVENT
UID:tentative
DTSTART:20270305T080000Z
DTEND:20270305T083000Z
STATUS:TENTATIVE
END:VEVENT
BEGIN:VEVENT
UID:transparent
DTSTART:20270305T090000Z
DTEND:20270305T100000Z
TRANSP:TRANSPARENT
END:VEVENT
BEGIN:VEVENT
UID:cancelled
DTSTART:20270305T110000Z
DTEND:20270305T120000Z
STATUS:CANCELLED
END:VEVENT
BEGIN:VEVENT
UID:declined
DTSTART:20270306T110000Z
DTEND:20270306T120000Z
ORGANIZER:mailto:boss@example.com
ATTENDEE;PARTSTAT=DECLINED:mailto:me@example.com
END:VEVENT
BEGIN:VEVENT
UID:weekly
DTSTART;TZID=Europe/Berlin:20270308T100000
DTEND;TZID=Europe/Berlin:20270308T110000
RRULE:FREQ=WEEKLY;COUNT=4
EXDATE;TZID=Europe/Berlin:20270315T100000
END:VEVENT
BEGIN:VEVENT
UID:weekly
RECURRENCE-ID;TZID=Europe/Berlin:20270322T100000
DTSTART;TZID=Europe/Berlin:20270323T140000
DTEND;TZID=Europe/Berlin:20270323T150000
END:VEVENT
"""
_NEW_YORK_EVENTS = """\
BEGIN:VEVENT
UID:ny-all-day
DTSTART;VALUE=DATE:20270314
DTEND;VALUE=DATE:20270315
END:VEVENT
BEGIN:VEVENT
UID:ny-daily
DTSTART;TZID=America/New_York:20270312T090000
DTEND;TZID=America/New_York:20270312T093000
RRULE:FREQ=DAILY;COUNT=4
END:VEVENT
BEGIN:VEVENT
UID:forever
DTSTART;TZID=America/New_York:20270101T070000
DTEND;TZID=America/New_York:20270101T080000
RRULE:FREQ=MONTHLY
END:VEVENT
"""


async def _calendar(connector: LocalConnector, calendar_id: str, zone: str, body: str) -> None:
    await connector.create_calendar(
        ACCOUNT, cal_pb.Calendar(display_name=calendar_id, time_zone=zone), calendar_id, CTX
    )
    await _import(connector, calendar_id, zone, body)


async def _import(connector: LocalConnector, calendar_id: str, zone: str, body: str) -> None:
    calendar = await connector.get_calendar(ACCOUNT, calendar_id)
    ics = f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n{body}END:VCALENDAR\n"
    parsed = from_ics(ics.replace("\n", "\r\n").encode(), default_zone=zone)
    events, _ = storable(parsed.events, calendar, [])
    exceptions, _ = storable(parsed.exceptions, calendar, [])
    await connector.import_events(ACCOUNT, calendar_id, events, exceptions, CTX)


async def _connector(store: Store) -> LocalConnector:
    async with store.transaction() as tx:
        await tx.execute(
            "INSERT INTO accounts (id, connector, body, settings, create_time, update_time)"
            " VALUES (?, 'local', ?, ?, 0, 0)",
            ACCOUNT, b"", b"",
        )  # fmt: skip
    connector = LocalConnector(store)
    await _calendar(connector, "berlin", "Europe/Berlin", _BERLIN_EVENTS)
    await _calendar(connector, "new-york", "America/New_York", _NEW_YORK_EVENTS)
    return connector


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()) * 1_000_000


_READS = [BusyRead("berlin", BERLIN, ME), BusyRead("new-york", NEW_YORK, ME)]


async def test_a_batch_answers_what_each_calendar_answers(store: Store) -> None:
    connector = await _connector(store)
    one_by_one = [
        await connector.busy_blocks(ACCOUNT, r.calendar, START, END, r.zone, r.who, with_ids=True)
        for r in _READS
    ]
    batched = await connector.busy_blocks_many(ACCOUNT, _READS, START, END, with_ids=True)
    assert batched == one_by_one
    berlin = [(b.start_us, b.end_us, b.tentative) for b in batched[0]]
    assert berlin == [
        (_utc(2027, 3, 2, 8), _utc(2027, 3, 2, 9), False),  # 09:00 CET
        (_utc(2027, 3, 2, 23), _utc(2027, 3, 3, 23), False),  # the all-day in Berlin
        (_utc(2027, 3, 4, 11), _utc(2027, 3, 4, 12), False),  # floating 12:00 in Berlin
        (_utc(2027, 3, 5, 8), _utc(2027, 3, 5, 8, 30), True),
        (_utc(2027, 3, 8, 9), _utc(2027, 3, 8, 10), False),  # the 15th is excluded
        (_utc(2027, 3, 23, 13), _utc(2027, 3, 23, 14), False),  # the 22nd, moved
        (_utc(2027, 3, 29, 8), _utc(2027, 3, 29, 9), False),  # 10:00 CEST
    ]
    assert all(b.event_id for b in batched[0])
    new_york = [(b.start_us, b.end_us) for b in batched[1]]
    assert (_utc(2027, 3, 14, 5), _utc(2027, 3, 15, 4)) in new_york  # a 23-hour day
    assert (_utc(2027, 3, 12, 14), _utc(2027, 3, 12, 14, 30)) in new_york  # EST
    assert (_utc(2027, 3, 15, 13), _utc(2027, 3, 15, 13, 30)) in new_york  # EDT
    assert (_utc(2027, 3, 1, 12), _utc(2027, 3, 1, 13)) in new_york  # the monthly series


async def test_declined_counts_only_for_who_declined(store: Store) -> None:
    connector = await _connector(store)
    someone = [BusyRead("berlin", BERLIN, "someone@example.com"), _READS[0]]
    theirs, mine = await connector.busy_spans_many(ACCOUNT, someone, START, END)
    declined = (_utc(2027, 3, 6, 11), _utc(2027, 3, 6, 12))
    assert declined in theirs
    assert declined not in mine


async def test_spans_are_the_blocks_ranges(store: Store) -> None:
    connector = await _connector(store)
    blocks = await connector.busy_blocks_many(ACCOUNT, _READS, START, END)
    spans = await connector.busy_spans_many(ACCOUNT, _READS, START, END)
    assert spans == [[(b.start_us, b.end_us) for b in found] for found in blocks]
    assert await connector.busy_blocks_many(ACCOUNT, [], START, END) == []


async def test_past_the_materialized_horizon(store: Store) -> None:
    connector = await _connector(store)
    late = (datetime(2031, 6, 1, tzinfo=UTC), datetime(2031, 7, 1, tzinfo=UTC))
    (blocks,) = await connector.busy_blocks_many(ACCOUNT, _READS[1:], *late)
    (spans,) = await connector.busy_spans_many(ACCOUNT, _READS[1:], *late)
    assert [(b.start_us, b.end_us) for b in blocks] == spans
    assert spans == [(_utc(2031, 6, 1, 11), _utc(2031, 6, 1, 12))]  # 07:00 EDT
    assert blocks[0].event_id.startswith(blocks[0].event_id.split("_")[0] + "_")


async def test_the_cache_follows_every_write(store: Store) -> None:
    connector = await _connector(store)
    before = await connector.busy_spans_many(ACCOUNT, _READS, START, END)
    again = await connector.busy_spans_many(ACCOUNT, _READS, START, END)
    assert again == before
    assert again[0] is before[0], "unchanged account: the same answer"
    await _calendar(connector, "other", "UTC", "")  # any write to the account
    moved = _BERLIN_EVENTS.split("END:VEVENT")[0].replace("UID:timed", "UID:new")
    await _import(
        connector, "berlin", "Europe/Berlin", moved.replace("0302T", "0320T") + "END:VEVENT\n"
    )
    after = await connector.busy_spans_many(ACCOUNT, _READS, START, END)
    assert after[1] == before[1]
    assert sorted([*before[0], (_utc(2027, 3, 20, 8), _utc(2027, 3, 20, 9))]) == after[0]


async def test_the_cache_keeps_within_its_size(store: Store) -> None:
    connector = await _connector(store)
    cache = BusyCache(max_spans=6)
    berlin = await cache.spans_many(store, ACCOUNT, _READS[:1], START, END)
    assert len(berlin[0]) == 7
    assert cache._spans == 0, "too big to keep, still answered"
    new_york = await cache.spans_many(store, ACCOUNT, _READS[1:], START, END)
    assert (len(new_york[0]), cache._spans) == (6, 6)
    assert await cache.spans_many(store, ACCOUNT, _READS[1:], START, END) == new_york
    other = [BusyRead("new-york", BERLIN, ME)]  # another zone: another entry
    await cache.spans_many(store, ACCOUNT, other, START, END)
    assert cache._spans == 6, "the oldest entry went"
    assert await connector.busy_spans_many(ACCOUNT, _READS, START, END) == [*berlin, *new_york]


async def test_schedules_of_several_calendars(store: Store) -> None:
    connector = await _connector(store)
    for n in range(3):
        await connector.create_schedule(
            ACCOUNT, "berlin", cal_pb.Schedule(display_name=f"s{n}"), f"s{n}", CTX
        )
    found = await connector.schedules_of(ACCOUNT, ["new-york", "berlin", "berlin"], limit=2)
    assert [[s.display_name for s in f] for f in found] == [[], ["s0", "s1"], ["s0", "s1"]]
    assert await connector.schedules_of(ACCOUNT, []) == []


def test_blocks_sort_by_time() -> None:
    assert sorted([BusyBlock(2, 3, False, ""), BusyBlock(1, 5, True, "")])[0].start_us == 1
