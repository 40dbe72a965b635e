"""ICS (RFC 5545) import and export of Almanac events.

Public API::

    to_ics(calendar, events, *, header=()) -> bytes   one VCALENDAR document
    from_ics(data, *, default_zone) -> ParsedCalendar  (events, warnings, header)
    event_to_vevent(event, *, master=None, ...) -> icalendar.Event
    vevent_to_event(vevent, *, default_zone=..., zones=None, problems=None) -> Event

The last two convert a single VEVENT either way and are what the CalDAV
connector reuses (with `ZoneResolver.from_calendar` for the VTIMEZONEs of
a CalDAV resource).

Mapping (Event field <-> VEVENT property; tables in `rfc`):

=====================  =====================================================
ical_uid               UID (generated from ``name`` if empty)
display_name           SUMMARY
description            DESCRIPTION
location               LOCATION
start / end            DTSTART / DTEND: ``VALUE=DATE`` (all-day), ``TZID=``
                       (zoned), ``Z`` (UTC), neither (floating); see `times`
organizer              ORGANIZER;CN=..;X-ALMANAC-ID=..:mailto:..
attendees              ATTENDEE with CN, PARTSTAT, ROLE, CUTYPE=RESOURCE,
                       X-ALMANAC-CAN-EDIT / -COMMENT / -ID; see `people`
reminders              VALARM (DISPLAY / EMAIL, TRIGGER:-PT<n>M); `alarms`
recurrence             RRULE (one per rule, verbatim), RDATE, EXDATE (one
                       per date, same value type and TZID as DTSTART)
original_start         RECURRENCE-ID (exceptions share their master's UID)
attachments            ATTACH;FMTTYPE=..;X-FILENAME=..;X-ALMANAC-ID=..:<url>
visibility             CLASS (DEFAULT: X-ALMANAC-VISIBILITY:DEFAULT)
transparent            TRANSP OPAQUE / TRANSPARENT
status                 STATUS CONFIRMED / TENTATIVE / CANCELLED
categories             CATEGORIES (one property, commas escaped)
color                  COLOR (nearest CSS name) + X-ALMANAC-COLOR (exact)
create_time            CREATED
update_time            LAST-MODIFIED (DTSTAMP = update, else create time)
custom_properties      X-ALMANAC-PROPERTY;X-KEY=<key>[;X-PRIVATE=TRUE]:<value>
event_type             X-ALMANAC-EVENT-TYPE
use_default_reminders  X-ALMANAC-DEFAULT-REMINDERS:TRUE/FALSE (only if set)
all_day, recurrence_type  derived on import from DTSTART / RRULE / RECURRENCE-ID
=====================  =====================================================

Not mapped: ``name``, ``etag``, ``raw``, ``creator``, ``delete_time``,
``recurring_master`` and ``instance_index`` (server-managed or backend
specific). Normalised, so not identical after a round trip: an unset
``end`` (written as Almanac's default, start + 1 hour / + 1 day), an empty
``time_zone`` (written as ``Z``, read back as ``UTC``), RDATE/EXDATE and
RECURRENCE-ID values (converted to the kind and zone of the series' start),
an unspecified reminder method (read back as popup), sub-second times, CR
line breaks and other control characters in text (LF kept, others dropped),
an ambiguous local time in the autumn DST overlap (read back as the first
of the two instants, as RFC 5545 says).

X- parameters: X-ALMANAC-ROLE / X-ALMANAC-REQUIRED on an ATTENDEE only
where ROLE alone would read back differently, and X-ALMANAC-GENERATED=TRUE
on VALARM texts and attendees RFC 5545 requires but the reminder lacked.

Import reads RFC 5545 (not Almanac's API defaults): a missing DTEND is one
day for a DATE start and zero length for a DATE-TIME start (see `decode`).
``Z`` values stay UTC and floating values stay floating; X-WR-TIMEZONE is
not applied to values (RFC 5545 ignores it); the document's own calendar
properties come back in ``ParsedCalendar.header`` for its export. A
VTIMEZONE that matches no IANA zone is evaluated from its own rules and
kept with the event (`customzone`). RDATE periods and
RECURRENCE-ID;RANGE=THISANDFUTURE become exceptions and split series
(`future`). Other clients' data that Almanac cannot hold is dropped with a
warning naming its line (``ParsedCalendar.warnings``), not refused: binary
or non-http(s) ATTACH, a duplicate attendee (merged), alarms after the
start or of ACTION NONE/PROCEDURE, CUTYPE=ROOM (read as a resource). A
VEVENT whose meaning Almanac cannot hold (EXRULE, RSCALE other than
GREGORIAN with SKIP=OMIT, RFC 7529) is left out with a warning and the rest
of the document imported.

Export (`export.to_ics`, see `encode`): no X-WR-TIMEZONE of Almanac's own;
cancelled exceptions as EXDATEs; period exceptions as RDATE;VALUE=PERIOD;
UNTIL in UTC for zoned series; custom VTIMEZONEs written again.

On a VEVENT that icalendar itself parsed (CalDAV), two things are
icalendar's: RRULE parts come back in icalendar's order, and backslash
sequences in parameter values are unescaped (this package's own parser
follows RFC 5545: parameters have no backslash escapes).
"""

from .decode import vevent_to_event
from .document import ParsedCalendar, from_ics
from .encode import event_to_vevent
from .export import to_ics
from .problems import ImportWarning, Problems
from .rfc import MAX_COMPONENTS, MAX_ICS_BYTES
from .zones import ZoneResolver

__all__ = [
    "MAX_COMPONENTS",
    "MAX_ICS_BYTES",
    "ImportWarning",
    "ParsedCalendar",
    "Problems",
    "ZoneResolver",
    "event_to_vevent",
    "from_ics",
    "to_ics",
    "vevent_to_event",
]
