"""Splitting an ICS document into self-contained chunks (connectors.ical.chunks)."""

from __future__ import annotations

import icalendar

from connectors.ical.chunks import split_document


def _document(events: int) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//EN",
             "BEGIN:VTIMEZONE", "TZID:Custom", "BEGIN:STANDARD", "DTSTART:19700101T000000",
             "TZOFFSETFROM:+0100", "TZOFFSETTO:+0100", "END:STANDARD", "END:VTIMEZONE"]  # fmt: skip
    for i in range(events):
        lines += ["BEGIN:VEVENT", f"UID:e{i}", "DTSTAMP:20260101T000000Z",
                  "DTSTART;TZID=Custom:20260105T090000", f"SUMMARY:Event {i} with a long",
                  "  folded title", "END:VEVENT"]  # fmt: skip
        if i % 3 == 0:  # an override of the same UID
            lines += ["BEGIN:VEVENT", f"UID:e{i}", "RECURRENCE-ID:20260112T090000",
                      "DTSTART;TZID=Custom:20260112T100000", "END:VEVENT"]  # fmt: skip
    return ("\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n").encode()


def test_chunks_keep_each_uid_together_and_every_component_once() -> None:
    data = _document(20)
    chunks = split_document(data, 5)
    assert len(chunks) > 3
    seen: list[str] = []
    for chunk in chunks:
        parsed = icalendar.Calendar.from_ical(chunk.data)
        assert len(parsed.walk("VTIMEZONE")) == 1  # every chunk resolves its zones
        uids = [str(e["UID"]) for e in parsed.walk("VEVENT")]
        assert len(uids) == chunk.components
        seen += sorted(set(uids))
    assert sorted(seen) == sorted(f"e{i}" for i in range(20))  # no UID split over chunks
    assert str(icalendar.Calendar.from_ical(chunks[0].data).walk("VEVENT")[0]["SUMMARY"]) == (
        "Event 0 with a long folded title"
    )


def test_chunk_lines_map_back_to_the_document() -> None:
    data = _document(10)
    document = data.splitlines()
    for chunk in split_document(data, 4):
        own = chunk.data.splitlines()
        for number, line in enumerate(own, start=1):
            at = chunk.document_line(number)
            if line == b"END:VCALENDAR" and number == len(own):
                assert at == 0
            else:
                assert document[at - 1] == line
    assert split_document(data, 4)[0].document_line(999) == 0


def test_an_empty_calendar_is_one_chunk() -> None:
    chunks = split_document(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", 10)
    assert len(chunks) == 1 and chunks[0].components == 0
    assert icalendar.Calendar.from_ical(chunks[0].data)["VERSION"] == "2.0"
