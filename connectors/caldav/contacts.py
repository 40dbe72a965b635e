"""CardDAV (RFC 6352): address books, vCards with etags, change sync.

The client side only: the ContactService is not served yet, so nothing in
the services calls this; it is tested at the connector level against
Radicale and Xandikos. It shares the account's `DavClient` and discovery
(``addressbook-home-set``) with the CalDAV backend:
``CardDav(backend)``. Contacts are keyed by vCard UID; a contact's etag is
``<ETag> <href>`` like an event item's.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from almanac.v1 import contact_service_pb2 as ct_pb

from connectors import errors

from . import davxml
from .backend import CalDavBackend
from .davxml import CARD, DAV, q
from .errors import malformed
from .items import href_for, item_etag, split_etag
from .sync import Page, Tracker
from .vcard import contact_to_vcard, vcard_to_contact

__all__ = ["AddressBook", "CardDav", "RemoteContact"]

_log = logging.getLogger("almanac.carddav")
_TYPE = q(DAV, "resourcetype")
_NAME = q(DAV, "displayname")
_DATA = q(CARD, "address-data")
_ETAG = q(DAV, "getetag")
_VCF = {"Content-Type": "text/vcard; charset=utf-8"}


@dataclass(frozen=True)
class AddressBook:
    href: str
    display_name: str


@dataclass(frozen=True)
class RemoteContact:
    uid: str
    etag: str  # "<ETag> <href>"
    contact: ct_pb.Contact


class CardDav:
    def __init__(self, backend: CalDavBackend) -> None:
        self.backend = backend
        self.client = backend.client
        self.tracker: Tracker[RemoteContact] = Tracker(self.client, self._multiget, _describe)

    async def home(self) -> str:
        homes = await self.backend.homes()
        if not homes.addressbooks:
            raise errors.Unsupported(
                "the server offers no CardDAV address book home", reason="CARDDAV_NOT_AVAILABLE"
            )
        return homes.addressbooks

    async def address_books(self) -> list[AddressBook]:
        """The account's address books; one is made if there is none (a new Radicale user)."""
        home = await self.home()
        found = await self.client.propfind(home, [_TYPE, _NAME], "list address books", depth="1")
        books = [
            AddressBook(r.href, r.text(_NAME))
            for r in found
            if r.status == 200
            and (t := r.props.get(_TYPE)) is not None
            and t.find(q(CARD, "addressbook")) is not None
        ]
        return books or [await self.create_address_book("Contacts")]

    async def create_address_book(self, name: str) -> AddressBook:
        href = f"{(await self.home()).rstrip('/')}/{uuid.uuid4().hex}/"
        values = {_TYPE: f"{q(DAV, 'collection')},{q(CARD, 'addressbook')}", _NAME: name}
        body = davxml.proppatch(values, tag=q(DAV, "mkcol"))  # RFC 5689 extended MKCOL
        await self.client.request(
            "MKCOL",
            href,
            "MKCOL address book",
            ok=(201,),
            body=body,
            headers={"Content-Type": "application/xml"},
        )
        return AddressBook(href, name)

    async def contacts(self, book: str) -> list[RemoteContact]:
        page = await self.changes(book, "")
        out = list(page.items)
        while page.more:
            page = await self.changes(book, page.token)
            out += page.items
        return out

    async def changes(self, book: str, token: str) -> Page[RemoteContact]:
        """Contacts changed since ``token`` ("" for all); SyncTokenExpired if it is stale."""
        return await self.tracker.changes(book, token)

    async def put(self, book: str, uid: str, contact: ct_pb.Contact, etag: str | None) -> str:
        """Create (``etag`` None) or replace (If-Match); the new etag."""
        body = contact_to_vcard(uid, contact).encode()
        if etag is None:
            href, headers = href_for(book, uid).replace(".ics", ".vcf"), {"If-None-Match": "*"}
        else:
            known, href = split_etag(etag)
            headers = {"If-Match": known} if known else {}
        try:
            reply = await self.client.request(
                "PUT",
                href,
                "PUT contact",
                ok=(200, 201, 204),
                body=body,
                headers={**_VCF, **headers},
            )
        except errors.EtagMismatch as exc:
            if etag is None:
                raise errors.AlreadyExists(
                    f"a contact with UID {uid} exists", reason="UPSTREAM_UID_CONFLICT"
                ) from exc
            raise
        new = reply.headers.get("ETag") or await self.backend._etag_of(href)
        return item_etag(new, href)

    async def delete(self, uid: str, etag: str) -> None:
        known, href = split_etag(etag)
        if not href:
            raise errors.NotFound(f"no resource known for contact {uid}")
        await self.client.request(
            "DELETE",
            href,
            "DELETE contact",
            ok=(200, 204),
            headers={"If-Match": known} if known else {},
        )

    async def _multiget(self, book: str, hrefs: list[str]) -> list[RemoteContact]:
        body = davxml.multiget(CARD, hrefs, _DATA)
        responses, _ = await self.client.report(book, body, "addressbook-multiget")
        out = []
        for response in responses:
            data = response.text(_DATA)
            if response.status != 200 or not data:
                continue
            try:
                uid, contact = vcard_to_contact(data)
            except ValueError as exc:
                _log.warning("skipping %s: %s", response.href, malformed("GET", str(exc)))
                continue
            out.append(RemoteContact(uid, item_etag(response.text(_ETAG), response.href), contact))
        return out


def _describe(contact: RemoteContact) -> tuple[str, str, str]:
    etag, href = split_etag(contact.etag)
    return contact.uid, href, etag
