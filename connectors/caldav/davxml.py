"""WebDAV/CalDAV/CardDAV request bodies and multistatus parsing.

Bodies are built with ElementTree (names in Clark notation, ``{DAV:}href``).
Replies are untrusted input: one with a DTD or entity declarations is
refused before parsing (no entity expansion). A reply that is not XML, or not
a multistatus, raises `MalformedReply`, which the client maps to UNAVAILABLE.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = [
    "CAL",
    "CARD",
    "CS",
    "DAV",
    "ICAL",
    "MalformedReply",
    "Response",
    "error_conditions",
    "multiget",
    "parse_multistatus",
    "path_of",
    "propfind",
    "proppatch",
    "q",
    "sync_collection",
    "text_of",
]

DAV = "DAV:"
CAL = "urn:ietf:params:xml:ns:caldav"
CARD = "urn:ietf:params:xml:ns:carddav"
CS = "http://calendarserver.org/ns/"
ICAL = "http://apple.com/ns/ical/"
_PREFIXES = {DAV: "D", CAL: "C", CARD: "CR", CS: "CS", ICAL: "I"}
for _uri, _prefix in _PREFIXES.items():
    ET.register_namespace(_prefix, _uri)


class MalformedReply(ValueError):
    """The server's answer is not the XML it must be."""


def q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


@dataclass
class Response:
    """One ``DAV:response``: its href (path, percent-encoded), status and found properties."""

    href: str
    status: int = 200  # of the response itself (e.g. 404 for a deleted member)
    props: dict[str, ET.Element] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)  # asked for, not there (404 propstat)

    def text(self, name: str) -> str:
        found = self.props.get(name)
        return text_of(found) if found is not None else ""

    def hrefs(self, name: str) -> list[str]:
        found = self.props.get(name)
        if found is None:
            return []
        return [path_of(h.text) for h in found.iter(q(DAV, "href")) if h.text]


def path_of(href: str) -> str:
    """The path of an href as the server wrote it (still percent-encoded)."""
    href = href.strip()
    return str(urlsplit(href).path) if "://" in href else href


def text_of(element: ET.Element) -> str:
    return "".join(element.itertext()).strip()


def _serialize(root: ET.Element) -> bytes:
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def propfind(props: Iterable[str]) -> bytes:
    root = ET.Element(q(DAV, "propfind"))
    prop = ET.SubElement(root, q(DAV, "prop"))
    for name in props:
        ET.SubElement(prop, name)
    return _serialize(root)


def proppatch(values: dict[str, str], remove: Iterable[str] = (), *, tag: str = "") -> bytes:
    """A PROPPATCH (or, with ``tag`` ``{CAL}mkcalendar``, an extended MKCOL body)."""
    root = ET.Element(tag or q(DAV, "propertyupdate"))
    if values:
        prop = ET.SubElement(ET.SubElement(root, q(DAV, "set")), q(DAV, "prop"))
        for name, value in values.items():
            if name == q(CAL, "supported-calendar-component-set"):
                element = ET.SubElement(prop, name)
                for comp in value.split(","):
                    ET.SubElement(element, q(CAL, "comp"), name=comp)
            elif name == q(DAV, "resourcetype"):
                element = ET.SubElement(prop, name)
                for child in value.split(","):
                    ET.SubElement(element, child)
            else:
                ET.SubElement(prop, name).text = value
    gone = list(remove)
    if gone:
        prop = ET.SubElement(ET.SubElement(root, q(DAV, "remove")), q(DAV, "prop"))
        for name in gone:
            ET.SubElement(prop, name)
    return _serialize(root)


def sync_collection(token: str, props: Iterable[str]) -> bytes:
    root = ET.Element(q(DAV, "sync-collection"))
    ET.SubElement(root, q(DAV, "sync-token")).text = token
    ET.SubElement(root, q(DAV, "sync-level")).text = "1"
    prop = ET.SubElement(root, q(DAV, "prop"))
    for name in props:
        ET.SubElement(prop, name)
    return _serialize(root)


def multiget(kind: str, hrefs: Sequence[str], data_prop: str) -> bytes:
    """``calendar-multiget`` (kind ``CAL``) or ``addressbook-multiget`` (``CARD``)."""
    name = "calendar-multiget" if kind == CAL else "addressbook-multiget"
    root = ET.Element(q(kind, name))
    prop = ET.SubElement(root, q(DAV, "prop"))
    ET.SubElement(prop, q(DAV, "getetag"))
    ET.SubElement(prop, data_prop)
    for href in hrefs:
        ET.SubElement(root, q(DAV, "href")).text = href
    return _serialize(root)


def _parse(body: bytes) -> ET.Element:
    if b"<!DOCTYPE" in body[:2048] or b"<!ENTITY" in body:
        raise MalformedReply("the server's XML declares a DTD or entities")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise MalformedReply(f"the server's answer is not XML ({exc})") from exc


def _status(element: ET.Element | None) -> int:
    if element is None or not element.text:
        return 200
    parts = element.text.split()
    try:
        return int(parts[1])
    except (IndexError, ValueError) as exc:
        raise MalformedReply(f"bad status line {element.text!r}") from exc


def parse_multistatus(body: bytes) -> tuple[list[Response], str]:
    """The responses of a 207 body and its ``sync-token`` ("" if none)."""
    root = _parse(body)
    if root.tag != q(DAV, "multistatus"):
        raise MalformedReply(f"expected a DAV:multistatus, got {root.tag}")
    out = []
    for element in root.findall(q(DAV, "response")):
        href = element.find(q(DAV, "href"))
        if href is None or not href.text:
            raise MalformedReply("a DAV:response without DAV:href")
        response = Response(path_of(href.text), _status(element.find(q(DAV, "status"))))
        for propstat in element.findall(q(DAV, "propstat")):
            code = _status(propstat.find(q(DAV, "status")))
            for prop in propstat.findall(q(DAV, "prop")):
                for child in prop:
                    if 200 <= code < 300:
                        response.props[child.tag] = child
                    else:
                        response.missing.add(child.tag)
        out.append(response)
    token = root.find(q(DAV, "sync-token"))
    return out, (token.text or "").strip() if token is not None else ""


def error_conditions(body: bytes) -> set[str]:
    """The precondition names of a ``DAV:error`` body (empty if it is not one)."""
    try:
        root = _parse(body)
    except MalformedReply:
        return set()
    if root.tag != q(DAV, "error"):
        return set()
    return {child.tag for child in root}
