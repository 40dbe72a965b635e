"""ContactService: validate, call the account's ContactStore, convert."""

from __future__ import annotations

from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import contact_service_pb2 as ct_pb
from almanac.v1 import contact_service_pb2_grpc as ct_grpc
from google.protobuf import empty_pb2

from connectors.base import WriteContext
from connectors.store.rows import new_id
from services.contacts.checks import check_contact, shown_name
from services.runtime.context import Context, Runtime
from services.runtime.errors import BadRequestBuilder
from services.runtime.names import CHILD_ID_RE, parse_account, parse_account_child
from services.runtime.validation import check_id, check_length, check_request_id, masked_update

__all__ = ["ContactService"]

_OUTPUT = ("create_time", "update_time")
_MUTABLE = tuple(
    f.name for f in ct_pb.Contact.DESCRIPTOR.fields if f.name not in (*_OUTPUT, "name", "etag")
)
_NEED = acc_pb.CAPABILITY_CONTACTS


def _shown(contact: ct_pb.Contact, include_raw: bool) -> ct_pb.Contact:
    if not include_raw:
        contact.ClearField("raw")
    return contact


class ContactService(ct_grpc.ContactServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def ListContacts(
        self, request: ct_pb.ListContactsRequest, context: Context
    ) -> ct_pb.ListContactsResponse:
        _, account_id = self.rt.account(parse_account(request.parent, "parent").account, "parent")
        bad = BadRequestBuilder()
        check_length(bad, "query", request.query, 256)
        bad.raise_if_any()
        page_request, digest = self.rt.pages.start(request)
        connector = await self.rt.connector(account_id, _NEED)
        page = await connector.list_contacts(account_id, request.query, page_request)
        return ct_pb.ListContactsResponse(
            contacts=[_shown(c, request.include_raw) for c in page.items],
            next_page_token=self.rt.pages.next_token(page, digest),
            total_size=page.total_size or 0,
        )

    async def GetContact(self, request: ct_pb.GetContactRequest, context: Context) -> ct_pb.Contact:
        account, contact_id = parse_account_child(request.name, "contacts")
        _, account_id = self.rt.account(account)
        connector = await self.rt.connector(account_id, _NEED)
        contact = await connector.get_contact(account_id, contact_id)
        return _shown(contact, request.include_raw)

    async def CreateContact(
        self, request: ct_pb.CreateContactRequest, context: Context
    ) -> ct_pb.Contact:
        _, account_id = self.rt.account(parse_account(request.parent, "parent").account, "parent")
        bad = BadRequestBuilder()
        if not request.HasField("contact"):
            bad.add("contact", "is required")
        else:
            check_contact(bad, request.contact, "contact", create=True)
        check_id(bad, "contact_id", request.contact_id, CHILD_ID_RE)
        check_request_id(bad, "request_id", request.request_id)
        bad.raise_if_any()
        connector = await self.rt.connector(account_id, _NEED)
        contact = ct_pb.Contact()
        contact.CopyFrom(request.contact)
        for field in (*_OUTPUT, "etag"):
            contact.ClearField(field)  # type: ignore[arg-type]
        if not contact.display_name.strip():
            contact.display_name = shown_name(contact)
        contact_id = request.contact_id or new_id()

        async def create(ctx: WriteContext) -> ct_pb.Contact:
            return await connector.create_contact(account_id, contact, contact_id, ctx)

        created = await self.rt.idempotent(request, "CreateContact", ct_pb.Contact, create)
        return _shown(created, include_raw=True)

    async def UpdateContact(
        self, request: ct_pb.UpdateContactRequest, context: Context
    ) -> ct_pb.Contact:
        account, contact_id = parse_account_child(request.contact.name, "contacts", "contact.name")
        p, account_id = self.rt.account(account, "contact.name")
        bad = BadRequestBuilder()
        check_contact(bad, request.contact, "contact", create=False)
        masked = masked_update(
            bad, request.contact, request.update_mask, mutable=_MUTABLE, output_only=_OUTPUT
        )
        bad.raise_if_any()

        def apply(current: ct_pb.Contact) -> tuple[ct_pb.Contact, list[str]]:
            updated, changed = masked(current)
            if not updated.display_name.strip():
                # Cleared, or never given: follow the name parts as on create.
                updated.display_name = shown_name(updated)
                if updated.display_name != current.display_name and "display_name" not in changed:
                    changed.append("display_name")
            return updated, changed

        connector = await self.rt.connector(account_id, _NEED)
        updated = await connector.update_contact(
            account_id, contact_id, apply, request.contact.etag, WriteContext(p.token_id)
        )
        return _shown(updated, include_raw=False)

    async def DeleteContact(
        self, request: ct_pb.DeleteContactRequest, context: Context
    ) -> empty_pb2.Empty:
        account, contact_id = parse_account_child(request.name, "contacts")
        p, account_id = self.rt.account(account)
        connector = await self.rt.connector(account_id, _NEED)
        await connector.delete_contact(
            account_id, contact_id, request.etag, WriteContext(p.token_id)
        )
        return empty_pb2.Empty()
