"""The HTTP side of a DAV account: one ``httpx.AsyncClient``, errors mapped here.

Every request goes through `DavClient.request`, which turns transport
failures and unexpected statuses into `connectors.errors` (see `errors`)
and returns only answers with an expected status. Redirects are followed
(``/.well-known/caldav`` answers 301), but never from https to http.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urljoin, urlsplit

import httpx

from connectors.telemetry import upstream_hooks

from . import davxml
from .errors import malformed, mapped, unreachable

__all__ = ["BULK_READ_TIMEOUT", "DEFAULT_TIMEOUT", "DavClient"]

DEFAULT_TIMEOUT = 10.0
# Reading the answer of a REPORT or depth-1 PROPFIND: a server computes it
# whole before the first byte (Radicale's first sync-collection of 10,000
# events takes seconds, tens of them on a busy machine).
BULK_READ_TIMEOUT = 120.0
_XML = {"Content-Type": 'application/xml; charset="utf-8"'}


class DavClient:
    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        bulk_timeout: float = BULK_READ_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base = url if url.endswith("/") else url + "/"
        self.timeout = timeout
        self.bulk = httpx.Timeout(timeout, read=bulk_timeout)
        auth = httpx.BasicAuth(username, password) if username or password else None
        self._http = httpx.AsyncClient(
            auth=auth,
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": "Almanac-CalDAV/1"},
            event_hooks=upstream_hooks("caldav"),
        )

    def url(self, href: str) -> str:
        return urljoin(self.base, href)

    async def request(
        self,
        method: str,
        href: str,
        op: str,
        *,
        ok: Iterable[int] = (200, 201, 204, 207),
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        syncing: bool = False,
        bulk: bool = False,
    ) -> httpx.Response:
        """Send; follow up to 5 redirects; raise the mapped error unless the status is ``ok``.

        ``bulk``: an answer about many resources, given `BULK_READ_TIMEOUT` to arrive.
        """
        url = self.url(href)
        timeout = self.bulk if bulk else self._http.timeout
        for _ in range(6):
            try:
                response = await self._http.request(
                    method, url, content=body, headers=headers, timeout=timeout
                )
            except httpx.HTTPError as exc:
                waited = timeout.read if isinstance(exc, httpx.ReadTimeout) else self.timeout
                raise unreachable(exc, op, waited or self.timeout) from exc
            if response.status_code not in (301, 302, 303, 307, 308):
                break
            target = urljoin(url, response.headers.get("Location", ""))
            if urlsplit(url).scheme == "https" and urlsplit(target).scheme != "https":
                raise malformed(op, "a redirect from https to http was refused")
            url = target
        if response.status_code not in set(ok):
            raise mapped(response, op, syncing=syncing)
        return response

    async def propfind(
        self, href: str, props: Iterable[str], op: str, *, depth: str = "0"
    ) -> list[davxml.Response]:
        response = await self.request(
            "PROPFIND",
            href,
            op,
            ok=(207,),
            body=davxml.propfind(props),
            headers={**_XML, "Depth": depth},
        )
        return self.multistatus(response, op)[0]

    async def report(
        self, href: str, body: bytes, op: str, *, depth: str = "1", syncing: bool = False
    ) -> tuple[list[davxml.Response], str]:
        response = await self.request(
            "REPORT",
            href,
            op,
            ok=(207,),
            body=body,
            headers={**_XML, "Depth": depth},
            syncing=syncing,
        )
        return self.multistatus(response, op)

    @staticmethod
    def multistatus(response: httpx.Response, op: str) -> tuple[list[davxml.Response], str]:
        try:
            return davxml.parse_multistatus(response.content)
        except davxml.MalformedReply as exc:
            raise malformed(op, str(exc)) from exc

    async def aclose(self) -> None:
        await self._http.aclose()
