"""Validation of contacts (limits documented in contact_service.proto)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from urllib.parse import urlsplit

from almanac.v1 import contact_service_pb2 as ct_pb

from services.runtime.errors import BadRequestBuilder
from services.runtime.validation import check_length

__all__ = ["check_contact", "email_ok", "shown_name"]

MAX_ITEMS = 50
MAX_TEXT = 1024
MAX_RAW_BYTES = 64 * 1024

_T = ct_pb.ContactDetailType
_EMAIL_TYPES = {_T.CONTACT_DETAIL_TYPE_UNSPECIFIED, _T.CONTACT_DETAIL_TYPE_HOME,
                _T.CONTACT_DETAIL_TYPE_WORK, _T.CONTACT_DETAIL_TYPE_OTHER}  # fmt: skip
_ADDRESS_TYPES = _EMAIL_TYPES
_PHONE_TYPES = _EMAIL_TYPES | {_T.CONTACT_DETAIL_TYPE_MOBILE}
_ORG_TYPES = {_T.CONTACT_DETAIL_TYPE_UNSPECIFIED, _T.CONTACT_DETAIL_TYPE_WORK,
              _T.CONTACT_DETAIL_TYPE_SCHOOL, _T.CONTACT_DETAIL_TYPE_OTHER}  # fmt: skip


def email_ok(value: str) -> bool:
    local, _, domain = value.partition("@")
    return (
        bool(local) and "." in domain and "@" not in domain and len(value) <= 320
        and not any(c.isspace() for c in value)
    )  # fmt: skip


def shown_name(c: ct_pb.Contact) -> str:
    """The default display name: the full name, else given and family names."""
    n = c.name_details
    return n.full or " ".join(p for p in (n.prefix, n.given, n.middle, n.family, n.suffix) if p)


def check_contact(bad: BadRequestBuilder, c: ct_pb.Contact, prefix: str, create: bool) -> None:
    check_length(bad, f"{prefix}.display_name", c.display_name, MAX_TEXT)
    for field in ("given", "family", "full", "middle", "prefix", "suffix"):
        value = getattr(c.name_details, field)
        check_length(bad, f"{prefix}.name_details.{field}", value, MAX_TEXT)
    check_length(bad, f"{prefix}.initials", c.initials, 16)
    if c.HasField("birthday"):
        _check_birthday(bad, c, f"{prefix}.birthday")
    if c.gender not in ct_pb.Gender.values():
        bad.add(f"{prefix}.gender", f"unknown value {c.gender}")
    for field in ("organizations", "emails", "phones", "relationships", "addresses", "websites"):
        if len(getattr(c, field)) > MAX_ITEMS:
            bad.add(f"{prefix}.{field}", f"at most {MAX_ITEMS}")
    _check_emails(bad, c.emails, f"{prefix}.emails")
    _check_phones(bad, c.phones, f"{prefix}.phones")
    for i, o in enumerate(c.organizations):
        p = f"{prefix}.organizations[{i}]"
        _check_type(bad, f"{p}.type", o.type, _ORG_TYPES)
        for field in ("name", "department", "title", "location"):
            check_length(bad, f"{p}.{field}", getattr(o, field), MAX_TEXT)
    for i, r in enumerate(c.relationships):
        p = f"{prefix}.relationships[{i}]"
        check_length(bad, f"{p}.name", r.name, MAX_TEXT, required=True)
        if r.type not in ct_pb.Relationship.RelationType.values():
            bad.add(f"{p}.type", f"unknown value {r.type}")
    for i, a in enumerate(c.addresses):
        p = f"{prefix}.addresses[{i}]"
        _check_type(bad, f"{p}.type", a.type, _ADDRESS_TYPES)
        for field in ("street", "city", "state", "country", "postal_code"):
            check_length(bad, f"{p}.{field}", getattr(a, field), MAX_TEXT)
    for i, url in enumerate(c.websites):
        if not _url_ok(url):
            bad.add(
                f"{prefix}.websites[{i}]", "must be an absolute URL, such as https://example.com/"
            )
    if c.HasField("raw") and c.raw.ByteSize() > MAX_RAW_BYTES:
        bad.add(f"{prefix}.raw", f"must be at most {MAX_RAW_BYTES} bytes serialized")
    if create and not (
        c.display_name.strip() or shown_name(c).strip() or c.emails or c.phones
        or any(o.name for o in c.organizations)
    ):  # fmt: skip
        bad.add(prefix, "needs a name, an email, a phone or an organization")


def _check_type(
    bad: BadRequestBuilder, field: str, value: int, allowed: set[ct_pb.ContactDetailType.ValueType]
) -> None:
    if value not in allowed:
        names = ", ".join(sorted(_T.Name(v) for v in allowed))
        bad.add(field, f"must be one of {names}")


def _check_birthday(bad: BadRequestBuilder, c: ct_pb.Contact, field: str) -> None:
    b = c.birthday
    # Year 0 means unknown (google.type.Date); 2000 is a leap year, so 29 Feb passes.
    try:
        ok = 0 <= b.year <= 9999 and bool(dt.date(b.year or 2000, b.month, b.day))
    except ValueError:
        ok = False
    if not ok:
        bad.add(field, "must be a valid month and day, with a year or year 0 when unknown")


def _check_emails(bad: BadRequestBuilder, emails: Sequence[ct_pb.ContactEmail], path: str) -> None:
    for i, e in enumerate(emails):
        _check_type(bad, f"{path}[{i}].type", e.type, _EMAIL_TYPES)
        if not e.value:
            bad.add(f"{path}[{i}].value", "is required")
        elif not email_ok(e.value):
            bad.add(f"{path}[{i}].value", f"is not an email address: {e.value[:64]!r}")
    if sum(e.primary for e in emails) > 1:
        bad.add(path, "at most one email may be primary")


def _check_phones(bad: BadRequestBuilder, phones: Sequence[ct_pb.Phone], path: str) -> None:
    for i, p in enumerate(phones):
        _check_type(bad, f"{path}[{i}].type", p.type, _PHONE_TYPES)
        if not p.value.strip():
            bad.add(f"{path}[{i}].value", "is required")
        elif len(p.value) > 64 or not any(ch.isdigit() for ch in p.value):
            bad.add(f"{path}[{i}].value", "must be a phone number (at most 64 characters)")
    if sum(p.primary for p in phones) > 1:
        bad.add(path, "at most one phone may be primary")


def _url_ok(url: str) -> bool:
    if len(url) > 2048 or any(c.isspace() for c in url):
        return False
    parts = urlsplit(url)
    return bool(parts.scheme) and bool(parts.netloc)
