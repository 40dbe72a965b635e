"""Contacts of the local connector: the account's own address book.

Contacts are Almanac's own data on a local account; a remote account gets
them from its backend (CardDAV) once that declares the capability.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from almanac.v1 import common_pb2
from almanac.v1 import contact_service_pb2 as ct_pb

from connectors.base import Page, PageRequest, WriteContext
from connectors.store import Store
from connectors.text import digits, fold, like_pattern, search_text

from .calendars import lock_account
from .table import BodyTable

__all__ = ["CONTACTS", "LocalContacts", "contact_name"]

ContactMutation = Callable[[ct_pb.Contact], tuple[ct_pb.Contact, Sequence[str]]]

# A query made only of these is (also) matched against phone digits.
_PHONE_LIKE = re.compile(r"^[\d\s+().\-/]*\d[\d\s+().\-/]*$")


def contact_name(account: str, contact_id: str) -> str:
    return f"accounts/{account}/contacts/{contact_id}"


def _shown_name(c: ct_pb.Contact) -> str:
    n = c.name_details
    return c.display_name or n.full or " ".join(p for p in (n.given, n.family) if p)


def _derived(c: ct_pb.Contact) -> dict[str, int | str]:
    n = c.name_details
    parts = [
        c.display_name, n.full, n.given, n.middle, n.family, n.prefix, n.suffix, c.initials,
        *(e.value for e in c.emails),
        *(p.value for p in c.phones),
        *(digits(p.value) for p in c.phones),
        *(x for o in c.organizations for x in (o.name, o.department, o.title)),
    ]  # fmt: skip
    return {"sort_key": fold(_shown_name(c)), "search": search_text(parts)}


CONTACTS = BodyTable(
    table="contacts",
    key_columns=("account_id", "id"),
    message=ct_pb.Contact,
    resource_type=common_pb2.RESOURCE_TYPE_CONTACT,
    kind="contact",
    calendar_of=lambda _: "",
    derived=_derived,
)


class LocalContacts:
    """The ``ContactStore`` capability."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def list_contacts(
        self, account: str, query: str, page: PageRequest
    ) -> Page[ct_pb.Contact]:
        # Keyset pagination on (sort_key, id): stable while contacts change.
        where = "account_id = ?"
        args: list[object] = [account]
        if query.strip():
            match = "search LIKE ? ESCAPE '\\'"
            args.append(like_pattern(query))
            if _PHONE_LIKE.match(query) and len(digits(query)) >= 3:
                match = f"({match} OR search LIKE ?)"
                args.append(f"%{digits(query)}%")
            where += f" AND {match}"
        total = await self._store.fetchone(
            f"SELECT COUNT(*) AS n FROM contacts WHERE {where}", *args
        )
        if page.position:
            sort_key, last_id = page.position.split("\x00", 1)
            where += " AND (sort_key > ? OR (sort_key = ? AND id > ?))"
            args += [sort_key, sort_key, last_id]
        rows = await self._store.fetchall(
            f"SELECT id, sort_key, body FROM contacts WHERE {where} ORDER BY sort_key, id LIMIT ?",
            *args,
            page.size + 1,
        )
        items = [ct_pb.Contact.FromString(bytes(r["body"])) for r in rows[: page.size]]
        next_position = None
        if len(rows) > page.size:
            last = rows[page.size - 1]
            next_position = f"{last['sort_key']}\x00{last['id']}"
        return Page(items, next_position, int(total["n"]) if total else 0)

    async def get_contact(self, account: str, contact_id: str) -> ct_pb.Contact:
        return await CONTACTS.get(
            self._store, (account, contact_id), contact_name(account, contact_id)
        )

    async def create_contact(
        self, account: str, contact: ct_pb.Contact, contact_id: str, ctx: WriteContext
    ) -> ct_pb.Contact:
        stored = ct_pb.Contact()
        stored.CopyFrom(contact)
        stored.name = contact_name(account, contact_id)
        async with self._store.transaction() as tx:
            await lock_account(tx, self._store.dialect, account)
            return await CONTACTS.insert(
                tx, self._store.dialect, (account, contact_id), stored, ctx
            )

    async def update_contact(
        self, account: str, contact_id: str, apply: ContactMutation, etag: str, ctx: WriteContext
    ) -> ct_pb.Contact:
        name = contact_name(account, contact_id)
        async with self._store.transaction() as tx:
            return await CONTACTS.update(
                tx, self._store.dialect, (account, contact_id), name, apply, etag, ctx
            )

    async def delete_contact(
        self, account: str, contact_id: str, etag: str, ctx: WriteContext
    ) -> None:
        name = contact_name(account, contact_id)
        async with self._store.transaction() as tx:
            await CONTACTS.delete(tx, self._store.dialect, (account, contact_id), name, etag, ctx)
