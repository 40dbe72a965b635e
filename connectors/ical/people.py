"""ORGANIZER and ATTENDEE <-> Person and Attendee.

``ATTENDEE;CN=<display_name>;PARTSTAT=..;ROLE=..;CUTYPE=RESOURCE;
X-ALMANAC-CAN-EDIT=TRUE;X-ALMANAC-COMMENT=..;X-ALMANAC-ID=..:mailto:<email>``

Parameter values are quoted and RFC 6868-escaped by icalendar, so names
with commas, quotes or line breaks survive. ROLE carries role and required
together (see `rfc.role_to_ical`); when ROLE alone would read back
differently (a chair with ``required`` set, say), X-ALMANAC-ROLE and
X-ALMANAC-REQUIRED say exactly what was stored.
"""

from __future__ import annotations

from typing import Any

from almanac.v1 import event_service_pb2 as ev_pb
from icalendar.prop import vCalAddress

from .rfc import CUTYPE_RESOURCE, CUTYPE_RESOURCE_IMPORT, PARTSTAT, X, role_from_ical, role_to_ical
from .values import TextParameters, clean_text

__all__ = [
    "address_of",
    "attendee_from_ical",
    "attendee_to_ical",
    "organizer_from_ical",
    "organizer_to_ical",
]

_MAILTO = "mailto:"


def _address(email: str) -> vCalAddress:
    value = vCalAddress(_MAILTO + clean_text(email).replace("\n", ""))
    value.params = TextParameters()
    return value


def address_of(value: object) -> str:
    """The email of a CAL-ADDRESS (the URI itself if it is not mailto:)."""
    text = str(value).strip()
    if text[: len(_MAILTO)].lower() == _MAILTO:
        return text[len(_MAILTO) :]
    return text


def _param(value: Any, name: str) -> str | None:
    found = value.params.get(name) if hasattr(value, "params") else None
    if found is None:
        return None
    if isinstance(found, list):  # multi-valued parameter: the first value
        found = found[0] if found else ""
    return str(found)


def _flag(text: str | None) -> bool | None:
    if text is None:
        return None
    upper = text.strip().upper()
    return True if upper == X.TRUE else False if upper == X.FALSE else None


def organizer_to_ical(person: ev_pb.Person) -> vCalAddress | None:
    """None when there is no email: ORGANIZER is a CAL-ADDRESS."""
    if not person.email:
        return None
    value = _address(person.email)
    if person.display_name:
        value.params["CN"] = clean_text(person.display_name)
    if person.id:
        value.params[X.ID] = clean_text(person.id)
    return value


def organizer_from_ical(value: Any) -> ev_pb.Person:
    return ev_pb.Person(
        email=address_of(value),
        display_name=_param(value, "CN") or "",
        id=_param(value, X.ID) or "",
    )


def attendee_to_ical(attendee: ev_pb.Attendee) -> vCalAddress:
    value = _address(attendee.email)
    params = value.params
    if attendee.display_name:
        params["CN"] = clean_text(attendee.display_name)
    partstat = PARTSTAT.to_ical(attendee.response_status)
    if partstat:
        params["PARTSTAT"] = partstat
    required = attendee.required if attendee.HasField("required") else None
    role = role_to_ical(attendee.role, required)
    if role:
        params["ROLE"] = role
    read_role, read_required = role_from_ical(role)
    if read_role != attendee.role:
        params[X.ROLE] = ev_pb.AttendeeRole.Name(attendee.role)
    if read_required != required:
        params[X.REQUIRED] = X.UNSET if required is None else X.TRUE if required else X.FALSE
    if attendee.resource:
        params["CUTYPE"] = CUTYPE_RESOURCE
    if attendee.can_edit:
        params[X.CAN_EDIT] = X.TRUE
    if attendee.comment:
        params[X.COMMENT] = clean_text(attendee.comment)
    if attendee.id:
        params[X.ID] = clean_text(attendee.id)
    return value


def attendee_from_ical(value: Any) -> ev_pb.Attendee:
    attendee = ev_pb.Attendee(
        email=address_of(value),
        display_name=_param(value, "CN") or "",
        id=_param(value, X.ID) or "",
        comment=_param(value, X.COMMENT) or "",
        can_edit=_flag(_param(value, X.CAN_EDIT)) is True,
        resource=(_param(value, "CUTYPE") or "").upper() in CUTYPE_RESOURCE_IMPORT,
    )
    partstat = _param(value, "PARTSTAT")
    status = PARTSTAT.from_ical(partstat) if partstat else None
    if status is not None:
        attendee.response_status = status
    role, required = role_from_ical(_param(value, "ROLE"))
    exact_role = _param(value, X.ROLE)
    if exact_role and exact_role.strip().upper() in ev_pb.AttendeeRole.keys():
        role = ev_pb.AttendeeRole.Value(exact_role.strip().upper())
    exact_required = _param(value, X.REQUIRED)
    if exact_required is not None:
        required = _flag(exact_required)
    attendee.role = role
    if required is not None:
        attendee.required = required
    return attendee
