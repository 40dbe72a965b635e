"""Change sync of one collection: ``sync-collection`` (RFC 6578), else etags.

`Tracker` keeps, per collection, what the last listing said (href -> UID and
ETag): a deleted href only names its UID there. It lives as long as the
backend object (the process); when it cannot name a deleted href's UID
(after a restart) or does not know the listing behind an etag token, the
token counts as expired and the mirror resyncs fully, which is always
correct.

* ``sync-collection`` with the server's token; an invalid token (Radicale
  403 ``valid-sync-token``, Xandikos 412) is `SyncTokenExpired`.
* Servers without it: a depth-1 PROPFIND of ``getetag``, compared with the
  previous listing; the token is ``etags-<hash>`` of that listing.
* Changed members are fetched in batches of `BATCH` with
  ``calendar-multiget`` / ``addressbook-multiget``, never one GET each; a
  large first listing is handed to the mirror in pages of `BATCH` items.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from connectors.remote import SyncTokenExpired

from . import davxml
from .client import DavClient
from .davxml import DAV, q
from .items import own_uid

__all__ = ["BATCH", "Listing", "Page", "Tracker"]

BATCH = 250
T = TypeVar("T")
_log = logging.getLogger("almanac.caldav")
_ETAG = q(DAV, "getetag")
_NO_SYNC = (400, 403, 405, 409, 415, 422, 501)


@dataclass
class Listing:
    """What one listing said about a collection."""

    etags: dict[str, str] = field(default_factory=dict)  # href -> ETag
    uids: dict[str, str] = field(default_factory=dict)  # href -> UID
    token: str = ""  # the etag fallback's token for this listing

    def saw(self, href: str, uid: str, etag: str) -> None:
        self.etags[href], self.uids[href] = etag, uid


@dataclass
class Page(Generic[T]):
    items: list[T]
    deleted: list[str]  # UIDs
    token: str
    more: bool = False


@dataclass
class _Pending:
    hrefs: list[str]
    token: str


def _hash_token(etags: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for href, etag in sorted(etags.items()):
        digest.update(f"{href}\0{etag}\n".encode())
    return "etags-" + digest.hexdigest()


class Tracker(Generic[T]):
    """Change sync over the collections of one account and one kind (CalDAV or CardDAV).

    ``fetch(collection, hrefs)`` multigets hrefs into items; ``describe(item)``
    is its (UID, href, ETag).
    """

    def __init__(
        self,
        client: DavClient,
        fetch: Callable[[str, list[str]], Awaitable[list[T]]],
        describe: Callable[[T], tuple[str, str, str]],
    ) -> None:
        self.client = client
        self._fetch = fetch
        self._describe = describe
        self.listings: dict[str, Listing] = {}
        self._pending: dict[str, _Pending] = {}
        self.use_sync_collection: bool | None = None  # None: not known yet

    async def changes(self, collection: str, token: str) -> Page[T]:
        if token.startswith("page-"):
            return await self._next_page(collection, token)
        if token.startswith("etags-") or self.use_sync_collection is False:
            return await self._by_etags(collection, token)
        return await self._by_sync_collection(collection, token)

    # -- sync-collection ----------------------------------------------------

    async def _report(self, collection: str, token: str) -> tuple[list[davxml.Response], str]:
        body = davxml.sync_collection(token, [_ETAG])
        response = await self.client.request(
            "REPORT",
            collection,
            "sync-collection",
            ok=(207, *_NO_SYNC) if not token else (207,),
            body=body,
            headers={"Content-Type": "application/xml; charset=utf-8", "Depth": "1"},
            syncing=bool(token),
            bulk=True,
        )
        if response.status_code != 207:
            return [], ""
        return self.client.multistatus(response, "sync-collection")

    async def _by_sync_collection(self, collection: str, token: str) -> Page[T]:
        responses, new_token = await self._report(collection, token)
        if not token and not new_token:
            self.use_sync_collection = False  # refused, or no token: compare etags instead
            return await self._by_etags(collection, "")
        self.use_sync_collection = True
        # After a restart the listing is empty: changed members are fetched
        # as usual (their data names their UID); only a deleted member this
        # process never saw makes the token count as expired (in `_page`).
        known = self.listings.get(collection)
        listing = known if token and known is not None else Listing()
        changed, gone = [], []
        for r in responses:
            if r.href.rstrip("/") == collection.rstrip("/"):
                continue
            if r.status == 404:
                if token:  # a first listing may name members long gone (Radicale)
                    gone.append(r.href)
            elif r.text(_ETAG) and listing.etags.get(r.href) != r.text(_ETAG):
                changed.append(r.href)
        self.listings[collection] = listing
        return await self._page(collection, listing, changed, gone, new_token)

    # -- the etag fallback ------------------------------------------------------

    async def _by_etags(self, collection: str, token: str) -> Page[T]:
        found = await self.client.propfind(collection, [_ETAG], "list etags", depth="1")
        current = {
            r.href: r.text(_ETAG)
            for r in found
            if r.status == 200 and r.text(_ETAG) and r.href.rstrip("/") != collection.rstrip("/")
        }
        listing = self.listings.get(collection)
        if token and (listing is None or listing.token != token):
            raise SyncTokenExpired(
                "the etag listing behind this token is gone", reason="SYNC_TOKEN_EXPIRED"
            )
        listing = listing if token and listing else Listing()
        changed = [h for h, e in current.items() if listing.etags.get(h) != e]
        gone = [h for h in listing.etags if h not in current]
        self.listings[collection] = listing
        return await self._page(collection, listing, changed, gone, "", etags=current)

    # -- fetching -------------------------------------------------------------------

    async def _page(
        self,
        collection: str,
        listing: Listing,
        changed: list[str],
        gone: list[str],
        token: str,
        etags: dict[str, str] | None = None,
    ) -> Page[T]:
        deleted = []
        for href in gone:
            uid = listing.uids.pop(href, None) or own_uid(href)
            listing.etags.pop(href, None)
            if uid is None:
                raise SyncTokenExpired(
                    f"{href} was deleted before this process listed it", reason="SYNC_TOKEN_EXPIRED"
                )
            deleted.append(uid)
        if etags is not None:  # the fallback's token names the listing after this pull
            token = listing.token = _hash_token(etags)
        first, rest = changed[:BATCH], changed[BATCH:]
        items = await self._load(collection, listing, first)
        if rest:
            page = f"page-{secrets.token_hex(8)}"
            self._pending[page] = _Pending(rest, token)
            return Page(items, deleted, page, more=True)
        return Page(items, deleted, token)

    async def _next_page(self, collection: str, token: str) -> Page[T]:
        pending = self._pending.pop(token, None)
        listing = self.listings.get(collection)
        if pending is None or listing is None:
            raise SyncTokenExpired("the paged listing is gone", reason="SYNC_TOKEN_EXPIRED")
        return await self._page(collection, listing, pending.hrefs, [], pending.token)

    async def _load(self, collection: str, listing: Listing, hrefs: list[str]) -> list[T]:
        items: list[T] = []
        for start in range(0, len(hrefs), BATCH):
            chunk = hrefs[start : start + BATCH]
            for item in await self._fetch(collection, chunk):
                uid, href, etag = self._describe(item)
                listing.saw(href, uid, etag)
                items.append(item)
        return items

    def forget(self, collection: str) -> None:
        self.listings.pop(collection, None)
