"""The CardDAV client against Radicale and Xandikos (the ContactService is not
served yet, so this is tested at the connector level).

Address books are found through ``addressbook-home-set``; contacts are written
as vCard 3.0 and read back field for field; etags guard updates and deletes;
``sync-collection`` reports changes and deletions by UID; a vCard 4.0 written
by another client is read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import contact_service_pb2 as ct_pb
from google.type import date_pb2

from connectors import errors
from connectors.caldav import CalDavBackend
from connectors.caldav.contacts import CardDav
from connectors.remote import SyncTokenExpired
from tests.connectors.caldav.servers import PASSWORD, DavServer, Radicale, Xandikos

VCARD4 = (
    "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:v4\r\nFN:Jane Doe\r\n"
    "N:Doe;Jane;Q.;Dr.;PhD\r\nEMAIL;TYPE=work;PREF=1:jane@example.com\r\n"
    'TEL;VALUE=uri;TYPE="cell,voice":tel:+1-555-0100\r\nBDAY:--0415\r\nGENDER:F\r\n'
    "ADR;TYPE=home:;;1 Main St;Town;ST;12345;US\r\nORG:Acme;R&D\r\n"
    "RELATED;TYPE=spouse;VALUE=text:John Doe\r\nEND:VCARD\r\n"
)


def full_contact() -> ct_pb.Contact:
    return ct_pb.Contact(
        display_name="Ada Lovelace",
        name_details=ct_pb.NameDetails(given="Ada", family="Lovelace", prefix="Countess"),
        birthday=date_pb2.Date(year=1815, month=12, day=10),
        organizations=[
            ct_pb.Organization(name="Analytical Engines", department="Programs", title="Programmer")
        ],
        emails=[
            ct_pb.ContactEmail(
                value="ada@example.org", type=ct_pb.CONTACT_DETAIL_TYPE_WORK, primary=True
            ),
            ct_pb.ContactEmail(value="ada@home.example", type=ct_pb.CONTACT_DETAIL_TYPE_HOME),
        ],
        gender=ct_pb.GENDER_FEMALE,
        phones=[ct_pb.Phone(value="+44 20 7946 0000", type=ct_pb.CONTACT_DETAIL_TYPE_MOBILE)],
        relationships=[
            ct_pb.Relationship(name="William", type=ct_pb.Relationship.RELATION_TYPE_SPOUSE)
        ],
        addresses=[
            ct_pb.Address(
                type=ct_pb.CONTACT_DETAIL_TYPE_HOME,
                street="12 St James's Sq",
                city="London",
                postal_code="SW1Y 4JH",
                country="GB",
            )
        ],
        websites=["https://example.org/ada"],
    )


@pytest.fixture(params=["radicale", "xandikos"])
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DavServer]:
    made: DavServer = Radicale(tmp_path) if request.param == "radicale" else Xandikos(tmp_path)
    made.start()
    yield made
    made.stop()


@pytest.fixture
async def carddav_and_other(server: DavServer) -> AsyncIterator[tuple[CardDav, httpx.Client]]:
    """The connector's CardDAV client, and another client of the same account."""
    user = server.add_user() if isinstance(server, Radicale) else ""
    settings = acc_pb.CalDavSettings(url=server.base + "/", username=user, password=PASSWORD)
    backend = CalDavBackend(acc_pb.Account(settings=acc_pb.ConnectorSettings(caldav=settings)))
    http = server.http(user)  # type: ignore[attr-defined]
    yield CardDav(backend), http
    http.close()
    await backend.aclose()


async def test_contacts_round_trip_with_etags_and_sync(
    carddav_and_other: tuple[CardDav, httpx.Client],
) -> None:
    carddav, other = carddav_and_other
    books = await carddav.address_books()
    assert books, "an address book is found or made"
    book = books[0].href
    start = await carddav.changes(book, "")
    assert start.items == [] and not start.more
    etag = await carddav.put(book, "ada-1", full_contact(), None)
    listed = await carddav.contacts(book)
    assert [(c.uid, c.contact) for c in listed] == [("ada-1", full_contact())]
    with pytest.raises(errors.AlreadyExists):
        await carddav.put(book, "ada-1", full_contact(), None)
    renamed = full_contact()
    renamed.display_name = "Ada King"
    new_etag = await carddav.put(book, "ada-1", renamed, etag)
    assert new_etag != etag
    with pytest.raises(errors.EtagMismatch):
        await carddav.put(book, "ada-1", renamed, etag)
    with pytest.raises(errors.EtagMismatch):
        await carddav.delete("ada-1", etag)
    # Another client writes a vCard 4.0; sync-collection reports it and the rename.
    reply = other.put(
        f"{book}v4.vcf", content=VCARD4.encode(), headers={"Content-Type": "text/vcard"}
    )
    assert reply.status_code in (201, 204), reply.text
    changed = await carddav.changes(book, start.token)
    got = {c.uid: c.contact for c in changed.items}
    assert got["ada-1"].display_name == "Ada King"
    v4 = got["urn:uuid:v4"]
    assert (v4.display_name, v4.name_details.family, v4.gender) == (
        "Jane Doe",
        "Doe",
        ct_pb.GENDER_FEMALE,
    )
    assert [(e.value, e.primary) for e in v4.emails] == [("jane@example.com", True)]
    assert v4.phones[0].value.replace("-", " ").startswith("+1")
    assert (v4.birthday.month, v4.birthday.day) == (4, 15)
    assert v4.organizations[0].name == "Acme"
    await carddav.delete("ada-1", new_etag)
    gone = await carddav.changes(book, changed.token)
    assert gone.deleted == ["ada-1"] and gone.items == []
    with pytest.raises(SyncTokenExpired):
        await carddav.changes(book, start.token + "x" if start.token else "bogus")
