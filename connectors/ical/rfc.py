"""RFC 5545 / RFC 7986 rules as data: value tables, X- names and limits.

Every enum <-> iCalendar value decision lives here, as tables, so the
encoder and the decoder cannot drift apart (the icalendar library keeps its
RFC rules as class data for the same reason). A `ValueTable` maps one proto
enum to one property (or parameter) value set in both directions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb

__all__ = [
    "ACTION",
    "CLASS",
    "CUTYPE_RESOURCE",
    "CUTYPE_RESOURCE_IMPORT",
    "MAX_COMPONENTS",
    "MAX_ICS_BYTES",
    "MAX_REMINDER_MINUTES",
    "MAX_VIOLATIONS",
    "PARTSTAT",
    "PRODID",
    "ROLE_BY_PARTICIPATION",
    "ROLE_PARAM",
    "STATUS",
    "STRICT_PROPERTIES",
    "TRANSP_OPAQUE",
    "TRANSP_TRANSPARENT",
    "VERSION",
    "ValueTable",
    "X",
    "role_from_ical",
    "role_to_ical",
]

E = TypeVar("E", bound=int)

PRODID = "-//Almanac//almanac.dev//EN"
VERSION = "2.0"

# ImportCalendarRequest: "At most 16 MiB and 50,000 components".
MAX_ICS_BYTES = 16 * 1024 * 1024
MAX_COMPONENTS = 50_000
# A pathological document could otherwise produce one violation per line;
# the error message (and ErrorInfo) must stay a reasonable size.
MAX_VIOLATIONS = 100
# Reminder.minutes: 0-40320 (four weeks).
MAX_REMINDER_MINUTES = 40320


class ValueTable(Generic[E]):
    """A proto enum <-> iCalendar value table.

    ``pairs`` is the canonical, one-to-one part used in both directions.
    ``export_aliases`` are extra enum values written as an existing iCalendar
    value (for example an unspecified reminder method is a popup), and
    ``import_aliases`` extra iCalendar values read as an enum value.
    ``unknown`` is what an unrecognised value reads as (``None``: ignore it).
    """

    def __init__(
        self,
        pairs: Mapping[E, str],
        *,
        unknown: E | None,
        export_aliases: Mapping[E, str] | None = None,
        import_aliases: Mapping[str, E] | None = None,
    ) -> None:
        self._to: dict[E, str] = {**dict(pairs), **dict(export_aliases or {})}
        self._from: dict[str, E] = {v.upper(): k for k, v in pairs.items()}
        self._from.update({k.upper(): v for k, v in (import_aliases or {}).items()})
        self.unknown = unknown

    def to_ical(self, value: E) -> str | None:
        """The iCalendar value, or None when the enum value is not written."""
        return self._to.get(value)

    def from_ical(self, text: str) -> E | None:
        # Enumerated values are case-insensitive (RFC 5545 section 2).
        return self._from.get(text.strip().upper(), self.unknown)


STATUS: ValueTable[ev_pb.EventStatus.ValueType] = ValueTable(
    {
        ev_pb.EVENT_STATUS_CONFIRMED: "CONFIRMED",
        ev_pb.EVENT_STATUS_TENTATIVE: "TENTATIVE",
        ev_pb.EVENT_STATUS_CANCELLED: "CANCELLED",
    },
    unknown=ev_pb.EVENT_STATUS_UNSPECIFIED,
)

# RFC 5545 section 3.8.1.3: unrecognised x-name and iana-token CLASS values
# MUST be treated like PRIVATE. VISIBILITY_DEFAULT has no CLASS value; it is
# kept in X-ALMANAC-VISIBILITY so that it survives a round trip.
CLASS: ValueTable[ev_pb.Visibility.ValueType] = ValueTable(
    {
        ev_pb.VISIBILITY_PUBLIC: "PUBLIC",
        ev_pb.VISIBILITY_PRIVATE: "PRIVATE",
        ev_pb.VISIBILITY_CONFIDENTIAL: "CONFIDENTIAL",
    },
    unknown=ev_pb.VISIBILITY_PRIVATE,
)

TRANSP_OPAQUE = "OPAQUE"
TRANSP_TRANSPARENT = "TRANSPARENT"

# Unspecified is not written (RFC default NEEDS-ACTION), so that "no answer
# recorded" and "explicitly pending" stay distinct. DELEGATED, COMPLETED and
# IN-PROCESS have no Almanac equivalent.
PARTSTAT: ValueTable[ev_pb.ResponseStatus.ValueType] = ValueTable(
    {
        ev_pb.RESPONSE_STATUS_PENDING: "NEEDS-ACTION",
        ev_pb.RESPONSE_STATUS_ACCEPTED: "ACCEPTED",
        ev_pb.RESPONSE_STATUS_DECLINED: "DECLINED",
        ev_pb.RESPONSE_STATUS_TENTATIVE: "TENTATIVE",
    },
    unknown=ev_pb.RESPONSE_STATUS_UNSPECIFIED,
)

# VALARM ACTION. AUDIO (Apple's default) is the closest thing to a popup;
# NONE and PROCEDURE alarms are dropped (unknown=None).
ACTION: ValueTable[common_pb2.ReminderMethod.ValueType] = ValueTable(
    {
        common_pb2.REMINDER_METHOD_POPUP: "DISPLAY",
        common_pb2.REMINDER_METHOD_EMAIL: "EMAIL",
    },
    unknown=None,
    export_aliases={common_pb2.REMINDER_METHOD_UNSPECIFIED: "DISPLAY"},
    import_aliases={"AUDIO": common_pb2.REMINDER_METHOD_POPUP},
)

# ROLE carries both Attendee.role and Attendee.required: chairs and
# non-participants have their own value, participants are REQ- or OPT- by
# `required` (RFC default REQ-PARTICIPANT, like Almanac's default true).
ROLE_PARAM: dict[ev_pb.AttendeeRole.ValueType, str] = {
    ev_pb.ATTENDEE_ROLE_CHAIR: "CHAIR",
    ev_pb.ATTENDEE_ROLE_NON_PARTICIPANT: "NON-PARTICIPANT",
}
ROLE_BY_PARTICIPATION: dict[bool, str] = {True: "REQ-PARTICIPANT", False: "OPT-PARTICIPANT"}


def role_to_ical(role: ev_pb.AttendeeRole.ValueType, required: bool | None) -> str | None:
    """The ROLE parameter for an attendee; None when neither field is set."""
    if role in ROLE_PARAM:
        return ROLE_PARAM[role]
    if required is None and role == ev_pb.ATTENDEE_ROLE_UNSPECIFIED:
        return None
    return ROLE_BY_PARTICIPATION[required is not False]


def role_from_ical(value: str | None) -> tuple[ev_pb.AttendeeRole.ValueType, bool | None]:
    """(role, required) as ROLE alone says; unknown roles are unspecified."""
    if value is None:
        return ev_pb.ATTENDEE_ROLE_UNSPECIFIED, None
    value = value.strip().upper()
    for role, text in ROLE_PARAM.items():
        if text == value:
            return role, None
    for required, text in ROLE_BY_PARTICIPATION.items():
        if text == value:
            return ev_pb.ATTENDEE_ROLE_PARTICIPANT, required
    return ev_pb.ATTENDEE_ROLE_UNSPECIFIED, None


# Written for resources; ROOM (RFC 5545 too) is read as a resource as well.
CUTYPE_RESOURCE = "RESOURCE"
CUTYPE_RESOURCE_IMPORT = frozenset({"RESOURCE", "ROOM"})


class X:
    """Names of the non-standard properties and parameters Almanac writes.

    They carry what RFC 5545 cannot express, so that proto -> ICS -> proto is
    lossless; other clients ignore them (RFC 5545 section 3.8.8.2).
    """

    # Properties of a VEVENT.
    PROPERTY = "X-ALMANAC-PROPERTY"  # custom_properties, one per entry
    EVENT_TYPE = "X-ALMANAC-EVENT-TYPE"
    DEFAULT_REMINDERS = "X-ALMANAC-DEFAULT-REMINDERS"
    VISIBILITY = "X-ALMANAC-VISIBILITY"  # only value: DEFAULT
    COLOR = "X-ALMANAC-COLOR"  # the exact #RRGGBB next to the CSS name in COLOR
    # Parameters of X-ALMANAC-PROPERTY.
    KEY = "X-KEY"
    PRIVATE = "X-PRIVATE"
    # Parameters of ORGANIZER / ATTENDEE / ATTACH.
    ID = "X-ALMANAC-ID"
    CAN_EDIT = "X-ALMANAC-CAN-EDIT"
    COMMENT = "X-ALMANAC-COMMENT"
    # Written only where ROLE alone would read back differently.
    ROLE = "X-ALMANAC-ROLE"
    REQUIRED = "X-ALMANAC-REQUIRED"
    # Microsoft's attachment file name parameter, also read by Apple/Google.
    FILENAME = "X-FILENAME"
    # Marks a VALARM text or attendee that RFC 5545 requires but the
    # reminder did not have: it is filled in for other clients and skipped
    # on import.
    GENERATED = "X-ALMANAC-GENERATED"
    # Calendar-level extensions understood by Apple, Google and Outlook.
    WR_CALNAME = "X-WR-CALNAME"
    WR_CALDESC = "X-WR-CALDESC"
    WR_TIMEZONE = "X-WR-TIMEZONE"
    APPLE_CALENDAR_COLOR = "X-APPLE-CALENDAR-COLOR"

    DEFAULT = "DEFAULT"
    TRUE = "TRUE"
    FALSE = "FALSE"
    UNSET = "UNSET"


# Properties whose value Almanac reads: a value that does not parse is an
# error (naming its line). Anything else that does not parse is kept as
# opaque text, as icalendar itself does, because it is dropped anyway.
STRICT_PROPERTIES = frozenset(
    {
        "DTSTART",
        "DTEND",
        "DURATION",
        "RECURRENCE-ID",
        "RDATE",
        "EXDATE",
        "RRULE",
        "EXRULE",
        "CREATED",
        "LAST-MODIFIED",
        "TRIGGER",
        "ORGANIZER",
        "ATTENDEE",
        "TZOFFSETFROM",
        "TZOFFSETTO",
    }
)
