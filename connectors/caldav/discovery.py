"""RFC 6764 discovery: principal, calendar home, address-book home, default calendar.

The account's URL may be the server's root, a principal, a calendar home or
anything below which ``current-user-principal`` is answered. Order:

1. PROPFIND the URL itself for ``current-user-principal``;
2. failing that (404, 405, or no principal), ``/.well-known/caldav`` on the
   same host (redirects followed, never https -> http);
3. PROPFIND the principal for ``calendar-home-set``, ``addressbook-home-set``
   and ``schedule-inbox-URL``; without a calendar home the principal is the
   home (as python-caldav 3.5 does); the inbox's
   ``schedule-default-calendar-URL`` names Almanac's ``primary`` (RFC 6638).

DNS SRV/TXT lookups are not done: a self-hosted deployment gives a URL.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors import errors

from . import davxml
from .client import DavClient
from .davxml import CAL, CARD, DAV, q

__all__ = ["Homes", "discover"]

_PRINCIPAL = q(DAV, "current-user-principal")
_CAL_HOME = q(CAL, "calendar-home-set")
_CARD_HOME = q(CARD, "addressbook-home-set")
_INBOX = q(CAL, "schedule-inbox-URL")
_DEFAULT = q(CAL, "schedule-default-calendar-URL")


@dataclass(frozen=True)
class Homes:
    principal: str
    calendars: str
    addressbooks: str  # "" when the server has no CardDAV
    default_calendar: str = ""


async def _principal_at(client: DavClient, href: str) -> str:
    try:
        found = await client.propfind(href, [_PRINCIPAL], "discovery (current-user-principal)")
    except (errors.NotFound, errors.PermissionDenied, errors.InvalidArgument):
        return ""  # no DAV resource here (404, 403, 400): try the well-known URL
    except errors.Unavailable as exc:
        # 405/501 (PROPFIND unknown) or XML that is not DAV: not here either;
        # a 5xx or a timeout is the server being down, said as such.
        status = exc.metadata.get("httpStatus", "")
        if status in ("405", "501") or exc.reason == "UPSTREAM_MALFORMED":
            return ""
        raise
    for response in found:
        principal = response.hrefs(_PRINCIPAL)
        if principal:
            return principal[0]
    return ""


async def discover(client: DavClient) -> Homes:
    principal = await _principal_at(client, client.base)
    if not principal:
        principal = await _principal_at(client, "/.well-known/caldav")
    if not principal:
        raise errors.InvalidArgument(
            violations=[
                (
                    "account.settings.caldav.url",
                    "no CalDAV server answers there: neither the URL nor /.well-known/caldav"
                    " names a current-user-principal",
                )
            ],
            reason="CALDAV_NOT_FOUND",
        )
    found = await client.propfind(
        principal, [_CAL_HOME, _CARD_HOME, _INBOX], "discovery (principal)"
    )
    props = found[0] if found else davxml.Response(principal)
    homes = props.hrefs(_CAL_HOME)
    books = props.hrefs(_CARD_HOME)
    inbox = props.hrefs(_INBOX)
    default = ""
    if inbox:
        try:
            answer = await client.propfind(inbox[0], [_DEFAULT], "discovery (schedule inbox)")
            default = next((h for r in answer for h in r.hrefs(_DEFAULT)), "")
        except errors.ConnectorError:
            default = ""  # optional: the first calendar is primary then
    return Homes(principal, homes[0] if homes else principal, books[0] if books else "", default)
