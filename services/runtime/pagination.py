"""Opaque, tamper-evident page tokens (AIP-158).

A token carries the connector's position plus a digest of the RPC's request
type and the request fields that define the result set, signed with
HMAC-SHA256. A token that was
altered, comes from another deployment, or is replayed with different
filters is INVALID_ARGUMENT instead of silently returning the wrong page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from connectors.base import Page, PageRequest
from connectors.errors import InvalidArgument

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "PageTokens", "page_budget", "page_size"]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def page_size(value: int, field: str = "page_size") -> int:
    """Apply AIP-158: 0 means the default, over the maximum is coerced."""
    if value < 0:
        raise InvalidArgument(
            f"{field} must not be negative",
            violations=[(field, f"must be between 0 and {MAX_PAGE_SIZE}; got {value}")],
        )
    if value == 0:
        return DEFAULT_PAGE_SIZE
    return min(value, MAX_PAGE_SIZE)


def page_budget(settings: Any) -> int:
    """Bytes a page may fill: a list response must fit the send limit (with room
    for the rest of the response), so a page of large items comes back shorter."""
    return int(settings.max_send_message_bytes * 0.9)


@dataclass(frozen=True)
class PageTokens:
    secret: bytes

    def request_digest(self, request: Message, *, ignore: tuple[str, ...] = ()) -> str:
        """Digest of the request without its paging fields (and ``ignore``).

        The request's message type is part of it, which binds a token to its
        RPC (every RPC has its own request message): a token of ListTimeZones
        replayed to ListAccounts with the same empty filter is refused.
        """
        copy = type(request)()
        copy.CopyFrom(request)
        for name in ("page_token", "page_size", *ignore):
            if name in copy.DESCRIPTOR.fields_by_name:
                copy.ClearField(name)
        digest = hashlib.sha256(request.DESCRIPTOR.full_name.encode() + b"\0")
        digest.update(copy.SerializeToString(deterministic=True))
        return digest.hexdigest()[:16]

    def start(self, request: Message, ignore: tuple[str, ...] = ()) -> tuple[PageRequest, str]:
        """The page a List request asks for, and its digest for ``next_token``.

        ``ignore``: fields that may change between pages (a starting cursor).
        """
        fields: Any = request  # every List request has page_size and page_token
        size = page_size(fields.page_size)
        digest = self.request_digest(request, ignore=ignore)
        return PageRequest(size, self.decode(fields.page_token, digest)), digest

    def next_token(self, page: Page[Any], digest: str) -> str:
        return self.encode(page.next_position, digest) if page.next_position else ""

    def encode(self, position: str, digest: str) -> str:
        payload = json.dumps([position, digest], separators=(",", ":")).encode()
        mac = hmac.new(self.secret, payload, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(mac + payload).decode().rstrip("=")

    def decode(self, token: str, digest: str, field: str = "page_token") -> str | None:
        """Return the position in ``token`` (None for an empty token)."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            mac, payload = raw[:12], raw[12:]
            ok = hmac.compare_digest(
                mac, hmac.new(self.secret, payload, hashlib.sha256).digest()[:12]
            )
            position, token_digest = json.loads(payload) if ok else (None, None)
        except (ValueError, TypeError):
            ok, position, token_digest = False, None, None
        if not ok or not isinstance(position, str):
            raise InvalidArgument(
                "page_token is not a token this server issued",
                violations=[(field, "invalid or tampered page token")],
                reason="INVALID_PAGE_TOKEN",
            )
        if token_digest != digest:
            raise InvalidArgument(
                "page_token was issued for a request with different parameters",
                violations=[(field, "the request's other fields must match the first page's")],
                reason="PAGE_TOKEN_MISMATCH",
            )
        return position
