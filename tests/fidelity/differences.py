"""Where another reader lists other instances than Almanac, one by one.

Key: (corpus file, reader); readers are ``rie`` (recurring-ical-events on
the file), ``icaljs`` (ical.js on the file) and ``icaljs_export`` (ical.js
on Almanac's export of it). Each entry says what differs and the RFC text
Almanac follows. The corpus test fails on a difference not listed here and
on an entry that no longer differs, so the list stays exact.
"""

from __future__ import annotations

# ical.js has no time zone database: a TZID without a VTIMEZONE at calendar
# level reads as floating time. RFC 5545 section 3.2.19 requires a VTIMEZONE
# for every TZID; Almanac (like icalendar and recurring-ical-events) resolves
# an IANA or Windows name without one. Its export carries the VTIMEZONE, and
# ical.js then agrees.
_NO_VTIMEZONE = (
    "ical.js reads a TZID without a calendar-level VTIMEZONE as floating time;"
    " Almanac resolves the zone name (RFC 5545 3.2.19 requires the VTIMEZONE;"
    " the export writes it and ical.js agrees there)"
)
# X-WR-TIMEZONE is not RFC 5545; recurring-ical-events applies it.
_X_WR = (
    "recurring-ical-events moves floating times into X-WR-TIMEZONE; Almanac keeps"
    " them floating (RFC 5545 3.3.5 form #1; X-WR-TIMEZONE is no RFC property)"
)

DIFFERENCES: dict[tuple[str, str], str] = {
    ("icalendar__america_new_york_forward_reference.ics", "rie"): (
        "recurring-ical-events fails (AttributeError) on a VTIMEZONE that follows its use;"
        " RFC 5545 3.4 does not order calendar components"
    ),
    ("icalendar__pacific_fiji.ics", "rie"): (
        "recurring-ical-events fails (AttributeError) on the custom VTIMEZONE; Almanac"
        " evaluates it from its own rules (RFC 5545 3.6.5, 3.2.19)"
    ),
    ("icalendar__multiple_timezones.ics", "rie"): (
        "recurring-ical-events fails (TypeError comparing datetime and time)"
    ),
    ("icalendar__multiple_timezones.ics", "icaljs"): (
        'ical.js fails to parse the file ("Could not extract integer")'
    ),
    ("icalendar__rfc_7529.ics", "rie"): (
        "recurring-ical-events rejects RSCALE; Almanac imports the RSCALE=GREGORIAN rule"
        " (RFC 7529 section 3: the Gregorian scale is RFC 5545's) and leaves the"
        " CHINESE/ETHIOPIC/HEBREW ones out with a warning (no such calendar arithmetic)"
    ),
    ("icalendar__rfc_7529.ics", "icaljs"): (
        "ical.js rejects BYMONTH=13 (a leap month of RFC 7529); see the rie entry"
    ),
    ("icalendar__issue_1426.ics", "icaljs"): (
        "ical.js leaves out DTSTART when the other instances are RDATE periods; RFC 5545"
        " 3.8.5.2 / 3.6.1: DTSTART is the first instance of the set"
    ),
    ("icalendar__issue_1426.ics", "icaljs_export"): "the same as on the file",
    ("icalendar__issue_156_RDATE_with_PERIOD_TZID_khal_2.ics", "icaljs"): (
        "an override (RANGE=THISANDFUTURE) whose series is not in the file: ical.js expands"
        " its RDATEs as a series of its own; Almanac keeps it as the one instance it"
        " overrides (RFC 5545 3.8.4.4: RECURRENCE-ID names an instance of another"
        " component), as recurring-ical-events does"
    ),
    ("icalendar__issue_156_RDATE_with_PERIOD_TZID_khal_2.ics", "icaljs_export"): (
        "the same as on the file"
    ),
    ("icaljs__multiple_rrules.ics", "icaljs"): (
        "ical.js ends the second RRULE (MONTHLY;BYDAY=SU;UNTIL=20120730T065959Z) before its"
        " last instance, Sunday 2012-07-29 11:00 PDT; RFC 5545 3.3.10: UNTIL is inclusive"
        " (recurring-ical-events agrees with Almanac)"
    ),
    ("icaljs__multiple_rrules.ics", "icaljs_export"): "the same as on the file",
    ("libical__2445__2.ics", "icaljs"): (
        "the event (1998-03-12) is before every observance of its custom VTIMEZONE: ical.js"
        " reads UTC, Almanac standard time (-05:00) as dateutil and recurring-ical-events"
        " do; RFC 5545 3.6.5 defines no offset before the first onset"
    ),
    ("libical__2445__2.ics", "icaljs_export"): "the same as on the file (its VTIMEZONE is kept)",
    ("rie__fablab_cottbus.ics", "icaljs"): (
        "TZID=Europe/Berlin with a VTIMEZONE whose first observance is 2018-10-28: for"
        " earlier events ical.js reads UTC, Almanac the tz database's Europe/Berlin (a known"
        " IANA name wins, as in icalendar; RFC 5545 3.6.5 defines nothing before the first"
        " onset)"
    ),
    ("rie__issue_113_period_in_rdate.ics", "icaljs"): (
        "ical.js ignores the TZID of RDATE;VALUE=PERIOD values (reads them as UTC); RFC 5545"
        " 3.8.5.2: TZID applies to every RDATE value"
    ),
    ("rie__issue_113_period_in_rdate.ics", "icaljs_export"): (
        "ical.js ends the RDATE periods early when DTSTART is not the first of them; RFC"
        " 5545 3.8.5.2 (recurring-ical-events and Almanac's re-import agree)"
    ),
    ("rie__issue_113_period_rdate_duration.ics", "icaljs"): (
        "ical.js leaves out DTSTART when the other instances are RDATE periods; RFC 5545"
        " 3.8.5.2 / 3.6.1"
    ),
    ("rie__issue_113_period_rdate_duration.ics", "icaljs_export"): "the same as on the file",
    ("rie__issue_27_t2.ics", "icaljs"): (
        _NO_VTIMEZONE + "; its EXDATE in UTC then excludes nothing in ical.js"
    ),
    ("rie__issue_86_x_wr_timezone_without_time_zone_in_dt.ics", "rie"): _X_WR,
    ("rie__multiple_rrule.ics", "icaljs"): (
        _NO_VTIMEZONE + "; and ical.js stops the union of two RRULEs when the shorter"
        " COUNT ends (RFC 5545 3.8.5.3: the set is every rule's instances)"
    ),
    ("rie__multiple_rrule.ics", "icaljs_export"): (
        "ical.js stops the union of two RRULEs when the shorter COUNT ends (RFC 5545 3.8.5.3)"
    ),
    ("rie__rdate.ics", "icaljs"): (
        "ical.js lists an RDATE that an EXDATE removes (2015-07-05) and misses one DTSTART;"
        " RFC 5545 3.8.5.1: EXDATE excludes from the whole set"
    ),
    ("rie__rdate.ics", "icaljs_export"): "the same as on the file",
    ("rie__rdate2.ics", "icaljs"): (
        "ical.js lists an RDATE that an EXDATE removes (2015-07-05); RFC 5545 3.8.5.1"
    ),
    ("rie__rdate2.ics", "icaljs_export"): "the same as on the file",
    ("nodeical__test_with_int_tzid.ics", "rie"): (
        "recurring-ical-events reads TZID=1 (an Outlook VTIMEZONE named by number) as"
        " floating; Almanac uses that VTIMEZONE (RFC 5545 3.2.19)"
    ),
}

for _name in (
    "icalendar__issue_1081_tzid_param.ics",
    "nodeical__example-rrule.ics",
    "nodeical__google-recurrence-order.ics",
    "nodeical__tentative-apple-calendar.ics",
    "nodeical__test_with_int_tzid.ics",
    "nodeical__vtodo-vfreebusy.ics",
    "nodeical__yearly-party.ics",
    "rie__duplicated_rrule.ics",
    "rie__subcomponents.ics",
):
    DIFFERENCES[(_name, "icaljs")] = _NO_VTIMEZONE
