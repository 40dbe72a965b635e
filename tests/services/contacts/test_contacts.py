"""ContactService end to end: fields, CRUD with etags, masks, paging, query, scopes."""

from __future__ import annotations

import uuid

import grpc
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import common_pb2
from almanac.v1 import contact_service_pb2 as ct_pb
from google.protobuf import field_mask_pb2, struct_pb2
from google.type import date_pb2

from tests.helpers import Almanac, TestAccount, expect_error, list_all, on_each_store, race
from tests.services.contacts.support import (
    Directory,
    directory_fixture,
    directory_processes_fixture,
)

__all__ = ["directory_fixture", "directory_processes_fixture"]

Code = grpc.StatusCode
T = ct_pb.ContactDetailType


def _full() -> ct_pb.Contact:
    raw = struct_pb2.Struct()
    raw.update({"vcard": "BEGIN:VCARD"})
    return ct_pb.Contact(
        display_name="Dr. José Núñez",
        name_details=ct_pb.NameDetails(
            given="José", family="Núñez", full="José María Núñez", middle="María",
            prefix="Dr.", suffix="Jr.",
        ),
        birthday=date_pb2.Date(year=0, month=2, day=29),
        organizations=[
            ct_pb.Organization(
                type=T.CONTACT_DETAIL_TYPE_WORK, name="Façade Ltd", department="R&D",
                title="Engineer", location="Lisboa",
            )
        ],
        emails=[
            ct_pb.ContactEmail(type=T.CONTACT_DETAIL_TYPE_WORK, value="jose@facade.example",
                               primary=True),
            ct_pb.ContactEmail(type=T.CONTACT_DETAIL_TYPE_HOME, value="jn@home.example"),
        ],
        gender=ct_pb.GENDER_MALE,
        initials="JMN",
        phones=[ct_pb.Phone(type=T.CONTACT_DETAIL_TYPE_MOBILE, value="+351 (21) 555-0199",
                            primary=True)],
        relationships=[
            ct_pb.Relationship(name="Ana", type=ct_pb.Relationship.RELATION_TYPE_SPOUSE)
        ],
        addresses=[
            ct_pb.Address(type=T.CONTACT_DETAIL_TYPE_HOME, street="Rua 1\nAndar 2",
                          city="Lisboa", state="Lisboa", country="PT", postal_code="1000-001")
        ],
        websites=["https://facade.example/jose"],
        raw=raw,
    )  # fmt: skip


def _mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


def _create(directory: Directory, account: TestAccount, **fields: object) -> ct_pb.Contact:
    return directory.contacts().CreateContact(
        ct_pb.CreateContactRequest(parent=account.name, contact=ct_pb.Contact(**fields))
    )


@on_each_store
def test_every_field_round_trips(
    almanac: Almanac, directory: Directory, account: TestAccount
) -> None:
    contacts = directory.contacts(account.token("contacts:write"))
    created = contacts.CreateContact(
        ct_pb.CreateContactRequest(parent=account.name, contact=_full(), contact_id="jose")
    )
    assert created.name == f"{account.name}/contacts/jose"
    assert created.etag and created.HasField("create_time") and created.HasField("update_time")
    for got in (
        created,
        directory.contacts(account.token("contacts:read")).GetContact(
            ct_pb.GetContactRequest(name=created.name, include_raw=True)
        ),
    ):
        expected = _full()
        expected.name, expected.etag = got.name, got.etag
        expected.create_time.CopyFrom(got.create_time)
        expected.update_time.CopyFrom(got.update_time)
        assert got == expected
    plain = contacts.GetContact(ct_pb.GetContactRequest(name=created.name))
    assert not plain.HasField("raw")


@on_each_store
def test_update_mask_etag_and_delete(
    almanac: Almanac, directory: Directory, account: TestAccount
) -> None:
    contacts = directory.contacts(account.token("contacts:write"))
    created = contacts.CreateContact(
        ct_pb.CreateContactRequest(parent=account.name, contact=_full())
    )
    patch = ct_pb.Contact(
        name=created.name, initials="X", phones=[ct_pb.Phone(value="123")], etag=created.etag
    )
    updated = contacts.UpdateContact(
        ct_pb.UpdateContactRequest(contact=patch, update_mask=_mask("phones"))
    )
    assert [p.value for p in updated.phones] == ["123"]
    assert updated.initials == "JMN", "a field outside the mask must not change"
    assert updated.etag != created.etag
    stale = expect_error(
        Code.ABORTED,
        lambda: contacts.UpdateContact(
            ct_pb.UpdateContactRequest(contact=patch, update_mask=_mask("initials"))
        ),
    )
    assert "etag" in stale.message
    # No mask: every field set in the patch.
    again = contacts.UpdateContact(
        ct_pb.UpdateContactRequest(contact=ct_pb.Contact(name=created.name, gender=2))
    )
    assert again.gender == ct_pb.GENDER_FEMALE and [p.value for p in again.phones] == ["123"]
    bad_mask = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: contacts.UpdateContact(
            ct_pb.UpdateContactRequest(contact=patch, update_mask=_mask("nope"))
        ),
    )
    assert bad_mask.fields == {"update_mask"}
    expect_error(
        Code.ABORTED,
        lambda: contacts.DeleteContact(ct_pb.DeleteContactRequest(name=created.name, etag="x")),
    )
    contacts.DeleteContact(ct_pb.DeleteContactRequest(name=created.name, etag=again.etag))
    expect_error(
        Code.NOT_FOUND, lambda: contacts.GetContact(ct_pb.GetContactRequest(name=created.name))
    )


@on_each_store
def test_display_name_defaults_to_the_name_parts(
    almanac: Almanac, directory: Directory, account: TestAccount
) -> None:
    created = _create(
        directory, account, name_details=ct_pb.NameDetails(given="Ada", family="Lovelace")
    )
    assert created.display_name == "Ada Lovelace"
    cleared = directory.contacts().UpdateContact(
        ct_pb.UpdateContactRequest(
            contact=ct_pb.Contact(
                name=created.name, name_details=ct_pb.NameDetails(full="Augusta Ada King")
            ),
            update_mask=_mask("display_name", "name_details"),
        )
    )
    assert cleared.display_name == "Augusta Ada King"


@on_each_store
def test_query_is_case_and_accent_insensitive(
    almanac: Almanac, directory: Directory, account: TestAccount
) -> None:
    contacts = directory.contacts()
    jose = contacts.CreateContact(ct_pb.CreateContactRequest(parent=account.name, contact=_full()))
    other = _create(
        directory, account, display_name="Zoë Ångström",
        emails=[ct_pb.ContactEmail(value="zoe@example.org")],
        organizations=[ct_pb.Organization(name="Ørsted")],
    )  # fmt: skip
    _create(directory, account, display_name="Nobody", phones=[ct_pb.Phone(value="999")])

    def names(query: str) -> list[str]:
        reply = contacts.ListContacts(ct_pb.ListContactsRequest(parent=account.name, query=query))
        assert reply.total_size == len(reply.contacts)
        return [c.name for c in reply.contacts]

    assert names("JOSE") == [jose.name]  # accent and case
    assert names("nunez") == [jose.name]  # family name
    assert names("FACADE.EXAMPLE") == [jose.name]  # email
    assert names("façade ltd") == [jose.name]  # organization
    assert names("2155501") == [jose.name]  # phone digits, whatever the punctuation
    assert names("(21) 555") == [jose.name]  # phone as written
    assert names("angstrom") == [other.name]
    assert names("orsted") == [other.name]
    assert names("ZOE@") == [other.name]
    assert names("%") == [] and names("_") == []  # LIKE wildcards are literal
    assert len(names("")) == 3
    assert names("lisboa") == [], "addresses are not searched"


@on_each_store
def test_paging_in_display_name_order(
    almanac: Almanac, directory: Directory, account: TestAccount
) -> None:
    shown = ["émile", "Bea", "ada", "Dan", "carl", "Fay", "gus"]
    for name in shown:
        _create(directory, account, display_name=name)
    got = list_all(
        directory.contacts().ListContacts,
        ct_pb.ListContactsRequest(parent=account.name, page_size=2),
        "contacts",
    )
    assert [c.display_name for c in got] == ["ada", "Bea", "carl", "Dan", "émile", "Fay", "gus"]
    first = directory.contacts().ListContacts(
        ct_pb.ListContactsRequest(parent=account.name, page_size=3)
    )
    assert first.total_size == 7 and first.next_page_token
    changed = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: directory.contacts().ListContacts(
            ct_pb.ListContactsRequest(
                parent=account.name, page_size=3, query="a", page_token=first.next_page_token
            )
        ),
    )
    assert changed.fields == {"page_token"}


@on_each_store
def test_request_id_returns_the_first_result(
    almanac: Almanac, directory: Directory, account: TestAccount
) -> None:
    contacts = directory.contacts()
    request = ct_pb.CreateContactRequest(
        parent=account.name, contact=ct_pb.Contact(display_name="Once"),
        request_id=str(uuid.uuid4()),
    )  # fmt: skip
    names = race(4, lambda: contacts.CreateContact(request))
    assert len(set(names)) == 1 and names[0].startswith(account.name), names
    listed = contacts.ListContacts(ct_pb.ListContactsRequest(parent=account.name))
    assert [c.name for c in listed.contacts] == [names[0]]


@on_each_store
def test_bad_input_names_every_bad_field(
    almanac: Almanac, directory: Directory, account: TestAccount
) -> None:
    bad = ct_pb.Contact(
        display_name="x" * 1025,
        birthday=date_pb2.Date(year=2023, month=2, day=29),
        emails=[ct_pb.ContactEmail(value="not-an-email"), ct_pb.ContactEmail(value="",
                type=T.CONTACT_DETAIL_TYPE_MOBILE)],
        phones=[ct_pb.Phone(value="abc", primary=True), ct_pb.Phone(value="1", primary=True)],
        organizations=[ct_pb.Organization(type=T.CONTACT_DETAIL_TYPE_MOBILE, name="o")],
        relationships=[ct_pb.Relationship(name="")],
        websites=["not a url"],
        gender=9,  # type: ignore[arg-type]
        initials="x" * 17,
    )  # fmt: skip
    failure = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: directory.contacts().CreateContact(
            ct_pb.CreateContactRequest(
                parent=account.name, contact=bad, contact_id="Bad Id", request_id="nope"
            )
        ),
    )
    assert failure.fields == {
        "contact.display_name", "contact.birthday", "contact.emails[0].value",
        "contact.emails[1].value", "contact.emails[1].type", "contact.phones[0].value",
        "contact.phones", "contact.organizations[0].type", "contact.relationships[0].name",
        "contact.websites[0]", "contact.gender", "contact.initials", "contact_id", "request_id",
    }  # fmt: skip
    empty = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: directory.contacts().CreateContact(
            ct_pb.CreateContactRequest(parent=account.name, contact=ct_pb.Contact())
        ),
    )
    assert empty.fields == {"contact"}
    for name in ("accounts/x/contacts", "accounts/BAD/contacts/a", "contacts/a"):
        wrong = expect_error(
            Code.INVALID_ARGUMENT,
            lambda name=name: directory.contacts().GetContact(ct_pb.GetContactRequest(name=name)),
        )
        assert wrong.fields == {"name"}


@on_each_store
def test_scopes_and_foreign_accounts_are_refused(
    almanac: Almanac, directory: Directory, account: TestAccount
) -> None:
    contact = _create(directory, account, display_name="Private")
    reader = directory.contacts(account.token("contacts:read"))
    assert reader.GetContact(ct_pb.GetContactRequest(name=contact.name)).name == contact.name
    expect_error(
        Code.PERMISSION_DENIED,
        lambda: reader.CreateContact(
            ct_pb.CreateContactRequest(parent=account.name, contact=ct_pb.Contact(display_name="x"))
        ),
    )
    calendars_only = directory.contacts(account.token("calendars:admin"))
    expect_error(
        Code.PERMISSION_DENIED,
        lambda: calendars_only.ListContacts(ct_pb.ListContactsRequest(parent=account.name)),
    )
    other = TestAccount(almanac, almanac.create_local_account())
    stranger = directory.contacts(other.token("contacts:admin"))
    for call in (
        lambda: stranger.GetContact(ct_pb.GetContactRequest(name=contact.name)),
        lambda: stranger.DeleteContact(ct_pb.DeleteContactRequest(name=contact.name)),
        lambda: stranger.ListContacts(ct_pb.ListContactsRequest(parent=account.name)),
        # Permission before existence: a missing contact of a foreign account too.
        lambda: stranger.GetContact(ct_pb.GetContactRequest(name=f"{account.name}/contacts/no")),
    ):
        expect_error(Code.PERMISSION_DENIED, call)
    expect_error(
        Code.UNAUTHENTICATED,
        lambda: directory.contacts(None).GetContact(ct_pb.GetContactRequest(name=contact.name)),
    )


@on_each_store
def test_activity_records_every_change(
    almanac: Almanac, directory: Directory, account: TestAccount
) -> None:
    contacts = directory.contacts()
    created = _create(directory, account, display_name="Log", initials="L")
    contacts.UpdateContact(
        ct_pb.UpdateContactRequest(
            contact=ct_pb.Contact(name=created.name, initials="M", display_name="Log"),
        )
    )
    contacts.DeleteContact(ct_pb.DeleteContactRequest(name=created.name))
    seen = [
        a
        for a in directory.activities(account.name)
        if a.resource_type == common_pb2.RESOURCE_TYPE_CONTACT
    ]
    assert [a.type for a in seen] == [
        act_pb.ACTIVITY_TYPE_ADDED, act_pb.ACTIVITY_TYPE_UPDATED, act_pb.ACTIVITY_TYPE_DELETED,
    ]  # fmt: skip
    assert all(a.resource == created.name for a in seen)
    assert list(seen[1].changed_fields.paths) == ["initials"]
    assert seen[1].contact_snapshot.initials == "M"
