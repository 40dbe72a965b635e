"""The CalDAV (RFC 4791, 6578, 6764) and CardDAV (RFC 6352) connector.

Modules, one concern each: `client` (HTTP), `errors` (statuses -> the
error tree), `davxml` (bodies and multistatus parsing), `discovery`,
`calendars`, `items` (ICS <-> items), `sync` (sync-collection, etag
fallback, multiget), `backend` (the `RemoteBackend`), `vcard` and
`contacts` (CardDAV).
"""

from .backend import CalDavBackend

__all__ = ["CalDavBackend"]
