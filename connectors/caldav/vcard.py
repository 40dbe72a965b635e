"""vCard (RFC 2426 3.0 written; 3.0 and RFC 6350 4.0 read) <-> ``almanac.v1.Contact``.

Parsed and written with vobject. Written as 3.0, which every CardDAV server
stores as given (Radicale re-serialises vCards with vobject and announces
4.0 only with vobject >= 1.0). Read differences between the versions:

=================  ==========================  ============================
field              3.0                         4.0
=================  ==========================  ============================
primary            TYPE=PREF                   PREF=1
gender             X-GENDER (Apple, Google)    GENDER:M/F/O/N/U
relationships      X-ABRELATEDNAMES + label,   RELATED;TYPE=child/spouse
                   X-SPOUSE / X-CHILD          ;VALUE=text
phone              TEL:+1 555                  TEL;VALUE=uri:tel:+1-555
birthday           BDAY:1985-04-15             BDAY:19850415 or --0415
=================  ==========================  ============================
"""

from __future__ import annotations

import re
from typing import Any

import vobject
from almanac.v1 import contact_service_pb2 as ct_pb
from google.type import date_pb2

__all__ = ["contact_to_vcard", "vcard_to_contact"]

_DETAIL = {
    "home": ct_pb.CONTACT_DETAIL_TYPE_HOME,
    "work": ct_pb.CONTACT_DETAIL_TYPE_WORK,
    "cell": ct_pb.CONTACT_DETAIL_TYPE_MOBILE,
    "mobile": ct_pb.CONTACT_DETAIL_TYPE_MOBILE,
    "school": ct_pb.CONTACT_DETAIL_TYPE_SCHOOL,
    "other": ct_pb.CONTACT_DETAIL_TYPE_OTHER,
}
_DETAIL_OUT = {v: k.upper() for k, v in _DETAIL.items() if k not in ("mobile",)}
_GENDER = {
    "M": ct_pb.GENDER_MALE,
    "F": ct_pb.GENDER_FEMALE,
    "O": ct_pb.GENDER_OTHER,
    "U": ct_pb.GENDER_UNKNOWN,
    "MALE": ct_pb.GENDER_MALE,
    "FEMALE": ct_pb.GENDER_FEMALE,
}
_GENDER_OUT = {
    ct_pb.GENDER_MALE: "M",
    ct_pb.GENDER_FEMALE: "F",
    ct_pb.GENDER_OTHER: "O",
    ct_pb.GENDER_UNKNOWN: "U",
}
_RELATION = {
    "child": ct_pb.Relationship.RELATION_TYPE_CHILD,
    "spouse": ct_pb.Relationship.RELATION_TYPE_SPOUSE,
}
_RELATION_OUT = {v: k for k, v in _RELATION.items()}
_BDAY = re.compile(r"^(\d{4}|--)-?(\d{2})-?(\d{2})")


def _types(line: Any) -> set[str]:
    out: set[str] = set()
    for value in line.params.get("TYPE", []):
        out.update(t.strip().lower() for t in str(value).split(","))
    return out


def _detail(types: set[str]) -> ct_pb.ContactDetailType.ValueType:
    for name, kind in _DETAIL.items():
        if name in types:
            return kind
    return ct_pb.CONTACT_DETAIL_TYPE_UNSPECIFIED


def _primary(line: Any) -> bool:
    return "pref" in _types(line) or bool(line.params.get("PREF"))


def _lines(card: Any, name: str) -> list[Any]:
    return list(card.contents.get(name.lower(), []))


def _text(card: Any, name: str) -> str:
    found = _lines(card, name)
    value = found[0].value if found else ""
    return value if isinstance(value, str) else ""


def vcard_to_contact(data: str) -> tuple[str, ct_pb.Contact]:
    """(UID, Contact) of one vCard 3.0 or 4.0; raises ValueError if it is not one."""
    try:
        card = vobject.readOne(data)
    except Exception as exc:  # vobject raises its own ParseError and plain ones
        raise ValueError(f"not a vCard: {exc}") from exc
    if card.name != "VCARD":
        raise ValueError(f"expected a VCARD, got {card.name}")
    contact = ct_pb.Contact(display_name=_text(card, "FN"))
    _name(card, contact)
    _birthday(_text(card, "BDAY"), contact)
    gender = (_text(card, "GENDER") or _text(card, "X-GENDER")).split(";")[0].strip().upper()
    contact.gender = _GENDER.get(gender, ct_pb.GENDER_UNSPECIFIED)
    for line in _lines(card, "EMAIL"):
        contact.emails.add(
            type=_detail(_types(line)), value=str(line.value), primary=_primary(line)
        )
    for line in _lines(card, "TEL"):
        number = str(line.value)
        number = number[4:] if number.lower().startswith("tel:") else number
        contact.phones.add(type=_detail(_types(line)), value=number, primary=_primary(line))
    for line in _lines(card, "ADR"):
        a = line.value
        contact.addresses.add(
            type=_detail(_types(line)),
            street=_join(a.street),
            city=_join(a.city),
            state=_join(a.region),
            postal_code=_join(a.code),
            country=_join(a.country),
        )
    _organizations(card, contact)
    contact.websites.extend(str(line.value) for line in _lines(card, "URL"))
    _relations(card, contact)
    return _text(card, "UID"), contact


def _join(value: Any) -> str:
    return "\n".join(value) if isinstance(value, list) else str(value or "")


def _name(card: Any, contact: ct_pb.Contact) -> None:
    found = _lines(card, "N")
    if not found:
        return
    n = found[0].value
    contact.name_details.family = _join(n.family)
    contact.name_details.given = _join(n.given)
    contact.name_details.middle = _join(n.additional)
    contact.name_details.prefix = _join(n.prefix)
    contact.name_details.suffix = _join(n.suffix)


def _birthday(text: str, contact: ct_pb.Contact) -> None:
    match = _BDAY.match(text.strip())
    if match:
        year = 0 if match.group(1) == "--" else int(match.group(1))
        contact.birthday.CopyFrom(
            date_pb2.Date(year=year, month=int(match.group(2)), day=int(match.group(3)))
        )


def _organizations(card: Any, contact: ct_pb.Contact) -> None:
    orgs = _lines(card, "ORG")
    title = _text(card, "TITLE")
    for i, line in enumerate(orgs):
        parts = line.value if isinstance(line.value, list) else [str(line.value)]
        contact.organizations.add(
            type=_detail(_types(line)),
            name=parts[0] if parts else "",
            department=";".join(parts[1:]),
            title=title if i == 0 else "",
        )
    if not orgs and title:
        contact.organizations.add(title=title)


def _relations(card: Any, contact: ct_pb.Contact) -> None:
    for line in _lines(card, "RELATED"):
        kind = next(
            (_RELATION[t] for t in _types(line) if t in _RELATION),
            ct_pb.Relationship.RELATION_TYPE_OTHER,
        )
        contact.relationships.add(name=str(line.value), type=kind)
    other = ct_pb.Relationship.RELATION_TYPE_OTHER
    for name, kind in (
        ("X-SPOUSE", _RELATION["spouse"]),
        ("X-CHILD", _RELATION["child"]),
        ("X-ABRELATEDNAMES", other),
    ):
        for line in _lines(card, name):
            contact.relationships.add(name=str(line.value), type=kind)


def contact_to_vcard(uid: str, contact: ct_pb.Contact) -> str:
    """A vCard 3.0 of ``contact``."""
    card = vobject.vCard()
    card.add("uid").value = uid
    n = contact.name_details
    card.add("n").value = vobject.vcard.Name(
        family=n.family, given=n.given, additional=n.middle, prefix=n.prefix, suffix=n.suffix
    )
    full = contact.display_name or n.full or " ".join(p for p in (n.given, n.family) if p) or uid
    card.add("fn").value = full
    if contact.HasField("birthday") and contact.birthday.month:
        b = contact.birthday
        year = f"{b.year:04d}" if b.year else "--"
        card.add("bday").value = f"{year}-{b.month:02d}-{b.day:02d}".replace("---", "--")
    if contact.gender in _GENDER_OUT:
        card.add("x-gender").value = _GENDER_OUT[contact.gender]
    for email in contact.emails:
        line = card.add("email")
        line.value = email.value
        line.type_param = _type_param(["INTERNET"], email.type, email.primary)
    for phone in contact.phones:
        line = card.add("tel")
        line.value = phone.value
        line.type_param = _type_param([], phone.type, phone.primary)
    for address in contact.addresses:
        line = card.add("adr")
        line.value = vobject.vcard.Address(
            street=address.street,
            city=address.city,
            region=address.state,
            code=address.postal_code,
            country=address.country,
        )
        if address.type in _DETAIL_OUT:
            line.type_param = _DETAIL_OUT[address.type]
    for org in contact.organizations[:1]:
        card.add("org").value = [org.name] + ([org.department] if org.department else [])
        if org.title:
            card.add("title").value = org.title
    for site in contact.websites:
        card.add("url").value = site
    for relation in contact.relationships:
        kind = _RELATION_OUT.get(relation.type)
        card.add(
            "x-spouse" if kind == "spouse" else "x-child" if kind == "child" else "x-abrelatednames"
        ).value = relation.name
    return str(card.serialize())


def _type_param(
    base: list[str], kind: ct_pb.ContactDetailType.ValueType, primary: bool
) -> list[str] | str:
    types = base + ([_DETAIL_OUT[kind]] if kind in _DETAIL_OUT else [])
    types += ["PREF"] if primary else []
    return types if len(types) != 1 else types[0]
