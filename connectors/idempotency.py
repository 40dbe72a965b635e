"""Idempotency keys (AIP-155): a retried create returns the first result.

The local connector records the key in the same transaction as the create
(``record``), so two concurrent retries cannot both create; the service looks
the key up first (``lookup``) and, when a concurrent retry won the race,
again after :class:`RequestReplayed`.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from google.protobuf.message import Message

from connectors.errors import ConnectorError, InvalidArgument
from connectors.store import IntegrityError, Store, Transaction

__all__ = [
    "RETENTION_SECONDS",
    "RequestReplayed",
    "StoredResponse",
    "lookup",
    "record",
    "request_hash",
]

RETENTION_SECONDS = 24 * 3600


class RequestReplayed(ConnectorError):
    """The key was recorded by a concurrent request; look it up again."""


@dataclass(frozen=True, slots=True)
class StoredResponse:
    request_hash: str
    response: bytes


def request_hash(request: Message) -> str:
    return hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()


async def lookup(store: Store, scope: str, request_id: str, req_hash: str) -> bytes | None:
    """The stored response for this key, or None; a different request is an error."""
    row = await store.fetchone(
        "SELECT request_hash, response, create_time FROM idempotency_keys"
        " WHERE scope = ? AND request_id = ?",
        scope,
        request_id,
    )
    if row is None or row["create_time"] < _now_us() - RETENTION_SECONDS * 1_000_000:
        return None
    if row["request_hash"] != req_hash:
        raise InvalidArgument(
            "request_id was already used for a different request",
            violations=[("request_id", "reuse a request_id only to retry the same request")],
            reason="REQUEST_ID_REUSED",
        )
    return bytes(row["response"])


async def record(
    tx: Transaction, scope: str, request_id: str, req_hash: str, response: bytes
) -> None:
    """Store the response inside the caller's transaction."""
    now = _now_us()
    # An expired key may be reused: drop it first so the insert can succeed.
    await tx.execute(
        "DELETE FROM idempotency_keys WHERE scope = ? AND request_id = ? AND create_time < ?",
        scope,
        request_id,
        now - RETENTION_SECONDS * 1_000_000,
    )
    try:
        await tx.execute(
            "INSERT INTO idempotency_keys (scope, request_id, request_hash, response, create_time)"
            " VALUES (?, ?, ?, ?, ?)",
            scope,
            request_id,
            req_hash,
            response,
            now,
        )
    except IntegrityError as exc:
        raise RequestReplayed("request_id recorded concurrently") from exc


def _now_us() -> int:
    return time.time_ns() // 1000
