"""Import of realistic files: Google, Outlook and Apple exports, RFC 5545
examples, all-day events far from UTC, custom and Windows time zones."""

from __future__ import annotations

from datetime import datetime

from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb

from connectors.ical import from_ics

from .support import at, day, floating, load, stamp, utc_of, wall

POPUP, EMAIL = common_pb2.REMINDER_METHOD_POPUP, common_pb2.REMINDER_METHOD_EMAIL


def by_uid(events: list[ev_pb.Event]) -> dict[str, ev_pb.Event]:
    return {e.ical_uid: e for e in events}


def test_rfc5545_weekly_series_with_exception_and_exdate():
    parsed = from_ics(load("rfc5545_weekly_with_exception.ics"), default_zone="UTC")
    (master,) = parsed.events
    (moved,) = parsed.exceptions
    assert parsed.skipped_count == 0
    assert master.ical_uid == moved.ical_uid == "weekly-standup@example.com"
    assert master.recurrence_type == ev_pb.RECURRENCE_TYPE_MASTER
    assert master.start == at("America/New_York", 2026, 2, 23, 9)
    assert master.end == at("America/New_York", 2026, 2, 23, 9, 30)
    assert list(master.recurrence.rrules) == ["FREQ=WEEKLY;BYDAY=MO;COUNT=6"]
    assert list(master.recurrence.exdates) == [at("America/New_York", 2026, 3, 16, 9)]
    assert master.display_name == "Weekly standup"
    assert master.description == "Agenda:\n1. Blockers, risks\n2. Plans"
    assert master.location == "Room 101; 1st floor"
    assert master.organizer == ev_pb.Person(email="alice@example.com", display_name="Alice Example")
    bob, carol = master.attendees
    assert (bob.email, bob.role, bob.required) == ("bob@example.com", 1, True)
    assert bob.response_status == ev_pb.RESPONSE_STATUS_ACCEPTED
    assert (carol.email, carol.required) == ("carol@example.com", False)  # folded line
    assert carol.response_status == ev_pb.RESPONSE_STATUS_PENDING
    assert list(master.categories) == ["MEETING", "WORK"]
    assert master.visibility == ev_pb.VISIBILITY_PUBLIC
    assert master.status == ev_pb.EVENT_STATUS_CONFIRMED
    assert not master.transparent
    assert moved.recurrence_type == ev_pb.RECURRENCE_TYPE_INSTANCE
    assert moved.original_start == at("America/New_York", 2026, 3, 9, 9)
    assert moved.start == at("America/New_York", 2026, 3, 9, 10)  # after the DST change
    assert utc_of(moved.start) == datetime.fromisoformat("2026-03-09T14:00:00+00:00")


def test_google_export():
    parsed = from_ics(load("google_export.ics"), default_zone="Europe/Berlin")
    events = by_uid(parsed.events)
    assert len(events) == 3 and parsed.skipped_count == 0
    sync = events["7kukuqrfedlm2f9t0vr4s3bd5v@google.com"]
    assert sync.start == at("Europe/Berlin", 2026, 1, 5, 9, 30)
    assert list(sync.recurrence.rrules) == [
        "FREQ=WEEKLY;WKST=MO;UNTIL=20260330T072959Z;BYDAY=MO,WE,FR"
    ]
    assert list(sync.recurrence.exdates) == [
        at("Europe/Berlin", 2026, 1, 7, 9, 30),
        at("Europe/Berlin", 2026, 1, 9, 9, 30),
    ]
    assert sync.description.startswith("Daily sync. Join with Google Meet: https://meet.google")
    assert "\n\nLearn more" in sync.description  # unfolded, then unescaped
    assert sync.location == ""
    assert sync.create_time == stamp(2025, 12, 1, 10)
    assert sync.update_time == stamp(2026, 1, 15, 10)
    alice, bob, room = sync.attendees
    assert alice.response_status == ev_pb.RESPONSE_STATUS_ACCEPTED and not alice.resource
    assert bob.display_name == "bob@example.com"
    assert room.resource and room.display_name == "Room Orion (6)"
    assert room.email == "c_1883abcdef@resource.calendar.google.com"
    assert list(sync.reminders) == [
        ev_pb.Reminder(minutes=10, method=POPUP, popup="This is an event reminder"),
        ev_pb.Reminder(
            minutes=1440,
            method=EMAIL,
            email=ev_pb.ReminderEmail(
                summary="Alarm notification",
                description="This is an event reminder",
                to=["alice@example.com"],
            ),
        ),
    ]
    (moved,) = parsed.exceptions
    assert moved.ical_uid == sync.ical_uid
    assert moved.original_start == at("Europe/Berlin", 2026, 1, 14, 9, 30)
    assert moved.location == "Orion"
    dentist = events["2b3c4d5e6f7g8h9i0j1k2l3m4n@google.com"]
    # UTC stays UTC: the instant is exact and RFC 5545 gives it no other zone.
    assert dentist.start == at("UTC", 2026, 2, 20, 14)
    assert dentist.location == "Dr. Smith, Hauptstr. 1, Berlin"
    assert dentist.visibility == ev_pb.VISIBILITY_PRIVATE
    trip = events["5q6r7s8t9u0v1w2x3y4z5a6b7c@google.com"]
    assert (trip.start, trip.end, trip.all_day) == (day(2026, 4, 3), day(2026, 4, 7), True)
    assert trip.transparent and trip.display_name == "Easter trip 🐣"


def test_outlook_export_with_windows_time_zones():
    parsed = from_ics(load("outlook_windows_tzid.ics"), default_zone="UTC")
    weekly, call, holiday = parsed.events
    # "W. Europe Standard Time" -> Europe/Berlin (CLDR), not the VTIMEZONE's rules.
    assert weekly.start == at("Europe/Berlin", 2026, 1, 6, 9)
    assert list(weekly.recurrence.exdates) == [at("Europe/Berlin", 2026, 4, 14, 9)]
    assert (
        weekly.ical_uid.startswith("040000008200E00074C5B7101A82E008")
        and " " not in weekly.ical_uid
    )
    assert weekly.display_name == "Weekly sync" and weekly.description == "\n"
    assert weekly.organizer.display_name == "Müller, Jörg"
    ana, room = weekly.attendees
    assert ana.email == "ana.silva@contoso.com" and ana.required
    assert room.resource and room.role == ev_pb.ATTENDEE_ROLE_NON_PARTICIPANT  # CUTYPE=ROOM
    assert list(weekly.reminders) == [ev_pb.Reminder(minutes=15, method=POPUP, popup="REMINDER")]
    (afternoon,) = parsed.exceptions
    assert afternoon.original_start == at("Europe/Berlin", 2026, 1, 20, 9)
    assert afternoon.start == at("Europe/Berlin", 2026, 1, 20, 14)
    # "Eastern Standard Time" -> America/New_York; 10:00 EDT two days after DST began.
    assert call.start == at("America/New_York", 2026, 3, 10, 10)
    assert utc_of(call.start).hour == 14
    assert call.status == ev_pb.EVENT_STATUS_TENTATIVE
    assert call.visibility == ev_pb.VISIBILITY_PRIVATE
    (agenda,) = call.attachments
    assert agenda.display_name == "agenda.docx"
    assert agenda.url == "https://contoso.sharepoint.com/sites/team/agenda.docx"
    assert agenda.mime_type.endswith("wordprocessingml.document")
    assert (holiday.start, holiday.end, holiday.transparent) == (
        day(2026, 5, 1),
        day(2026, 5, 2),
        True,
    )


def test_apple_alarms():
    parsed = from_ics(load("apple_valarm.ics"), default_zone="Europe/Paris")
    dinner, birthday = parsed.events
    assert parsed.skipped_count == 1  # the VTODO
    assert dinner.location == "Le Bistro\n1 Rue Example\n75001 Paris"
    assert list(dinner.reminders) == [
        ev_pb.Reminder(minutes=30, method=POPUP),  # AUDIO reads as a popup
        # ACTION:NONE is dropped; RELATED=END -1h on a one-hour event: at the start.
        ev_pb.Reminder(minutes=0, method=POPUP, popup="Event reminder"),
        # Absolute 16:30Z = 17:30 Paris, an hour before 18:30.
        ev_pb.Reminder(minutes=60, method=POPUP, popup="Leave now"),
        # TRIGGER:PT10M (after the start) has no Almanac equivalent.
    ]
    assert birthday.all_day and birthday.start == day(2026, 3, 14)
    assert list(birthday.recurrence.rrules) == ["FREQ=YEARLY"]
    assert list(birthday.reminders) == [ev_pb.Reminder(minutes=900, method=POPUP, popup="Reminder")]


def test_all_day_events_do_not_move_with_any_zone():
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"):
        parsed = from_ics(load("allday_kiritimati.ics"), default_zone=zone)
        events = by_uid(parsed.events)
        new_year = events["new-year@kiritimati.example"]
        assert (new_year.start, new_year.end, new_year.all_day) == (
            day(2026, 1, 1),
            day(2026, 1, 2),
            True,
        )
        festival = events["festival@kiritimati.example"]
        assert (festival.start, festival.end) == (day(2026, 7, 10), day(2026, 7, 13))
        birthday = events["birthday@kiritimati.example"]
        assert birthday.end == day(2026, 3, 1)  # no DTEND: one day (2026 is no leap year)
        assert list(birthday.recurrence.exdates) == [day(2027, 2, 28)]
        sunrise = events["sunrise@kiritimati.example"]
        assert sunrise.start == at("Pacific/Kiritimati", 2026, 1, 1, 6)
        # UTC+14: the first sunrise of 2026 is still in 2025 in UTC.
        assert utc_of(sunrise.start) == datetime.fromisoformat("2025-12-31T16:00:00+00:00")


def test_custom_and_renamed_time_zones():
    parsed = from_ics(load("custom_vtimezone_names.ics"), default_zone="UTC")
    zones = {e.display_name: e.start.time_zone for e in parsed.events}
    assert zones == {
        "Renamed zone": "America/New_York",  # the TZID contains it
        "Display-name zone": "America/New_York",  # same rules, most used name
        "X-LIC-LOCATION zone": "Europe/Vienna",
        "Fixed offset zone": "Asia/Kolkata",
        "Vendor prefix": "Europe/Lisbon",  # /mozilla.org/20050126_1/Europe/Lisbon
    }
    renamed = parsed.events[0]
    assert wall(renamed.start) == datetime(2026, 3, 10, 9)
    assert utc_of(renamed.start).hour == 13  # EDT


def test_missing_dtend_follows_rfc5545():
    parsed = from_ics(load("missing_dtend.ics"), default_zone="America/New_York")
    events = by_uid(parsed.events)

    def span(uid: str) -> tuple[common_pb2.EventTime, common_pb2.EventTime]:
        return events[uid].start, events[uid].end

    assert span("date-no-end@example.com") == (day(2026, 3, 28), day(2026, 3, 29))
    start, end = span("datetime-no-end@example.com")
    assert end == start  # zero duration, not Almanac's one-hour default
    # P1D is nominal: 09:00 the next day although that day has 23 hours.
    start, end = span("duration-day-across-dst@example.com")
    assert wall(end) == datetime(2026, 3, 29, 9)
    assert (utc_of(end) - utc_of(start)).total_seconds() == 23 * 3600
    start, end = span("duration-minutes@example.com")
    assert (utc_of(end) - utc_of(start)).total_seconds() == 90 * 60
    assert span("date-duration@example.com") == (day(2026, 3, 28), day(2026, 3, 30))
    assert span("floating@example.com") == (
        floating(2026, 3, 28, 7, 0),
        floating(2026, 3, 28, 7, 30),
    )
    # A UTC end of a floating start is read in the calendar's zone: 15:00Z = 11:00 EDT.
    assert span("floating-utc-end@example.com")[1] == floating(2026, 3, 28, 11, 0)


def test_todo_journal_and_freebusy_are_counted_as_skipped():
    parsed = from_ics(load("skipped_components.ics"), default_zone="UTC")
    assert [e.display_name for e in parsed.events] == ["An event"]
    assert parsed.exceptions == []
    assert parsed.skipped_count == 4


def test_x_wr_timezone_does_not_change_floating_or_utc_values():
    # RFC 5545 ignores X-WR-TIMEZONE; Almanac's own exports carry it next to
    # UTC and floating values that must come back unchanged.
    data = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nX-WR-TIMEZONE:Asia/Tokyo\r\n"
        b"BEGIN:VEVENT\r\nUID:u\r\nDTSTART:20260101T090000\r\nDTEND:20260101T100000Z\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    (event,) = from_ics(data, default_zone="UTC").events
    assert event.start == floating(2026, 1, 1, 9, 0)
    assert event.end == floating(2026, 1, 1, 10, 0)  # converted in default_zone, not Tokyo


def test_lenient_input_that_is_still_unambiguous():
    # Bare LF, a BOM, lower-case names, blank lines, an empty RDATE, a date
    # DTEND equal to DTSTART (meant as that one day), unknown X- properties
    # and components, and a property value that does not parse but is not used.
    data = (
        "\ufeffbegin:vcalendar\nversion:2.0\nprodid:x\n\n"
        "BEGIN:VEVENT\nuid:lenient@example.com\ndtstart;value=date:20260301\n"
        "DTEND;VALUE=DATE:20260301\nRDATE:\nX-CUSTOM;X-P=1:whatever\nGEO:not;a;number\n"
        "BEGIN:X-SOMETHING\nX-A:1\nEND:X-SOMETHING\nEND:VEVENT\nEND:VCALENDAR\n"
    ).encode()
    (event,) = from_ics(data, default_zone="UTC").events
    assert (event.start, event.end) == (day(2026, 3, 1), day(2026, 3, 2))
    assert not event.HasField("recurrence")
    assert event.recurrence_type == ev_pb.RECURRENCE_TYPE_SINGLE


def test_custom_vtimezones_do_not_leak_into_icalendars_process_wide_cache():
    # icalendar caches every VTIMEZONE it parses under its TZID for the whole
    # process; one user's "America/New_York-1" must not define it for others.
    from icalendar.timezone import tzp

    from_ics(load("custom_vtimezone_names.ics"), default_zone="UTC")
    assert tzp.timezone("America/New_York-1") is None
    assert tzp.timezone("Custom Central Europe") is None
