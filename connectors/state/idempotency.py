"""Idempotency keys (AIP-155): a retried create returns the first result.

The local connector claims the key at the start of the create's transaction
(``claim``) and stores the result at its end (``fulfil``). Claiming first
matters: two concurrent retries that name the same resource id would
otherwise collide on the resource (ALREADY_EXISTS) before the key, and the
loser would see an error instead of the first result. The loser's claim
fails with :class:`RequestReplayed` and the service looks the key up again.
"""

from __future__ import annotations

import hashlib
import time

from google.protobuf.message import Message

from connectors.base import WriteContext
from connectors.errors import ConnectorError, InvalidArgument
from connectors.store import IntegrityError, Store, Transaction

__all__ = [
    "RETENTION_SECONDS",
    "RequestReplayed",
    "claim",
    "fulfil",
    "lookup",
    "request_hash",
]

RETENTION_SECONDS = 24 * 3600


class RequestReplayed(ConnectorError):
    """The key was recorded by a concurrent request; look it up again."""


def request_hash(request: Message) -> str:
    return hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()


async def lookup(
    store: Store | Transaction, scope: str, request_id: str, req_hash: str
) -> bytes | None:
    """The stored response for this key, or None; a different request is an error.

    Inside a transaction it also sees a claim that SQLite's group commit holds
    uncommitted in the same group (the transaction then returns only once that
    group committed).
    """
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


async def claim(tx: Transaction, ctx: WriteContext) -> None:
    """Reserve ``ctx.request_id`` first thing in the create's transaction."""
    if not ctx.request_id:
        return
    now = _now_us()
    # An expired key may be reused: drop it first so the insert can succeed.
    await tx.execute(
        "DELETE FROM idempotency_keys WHERE scope = ? AND request_id = ? AND create_time < ?",
        ctx.idempotency_scope,
        ctx.request_id,
        now - RETENTION_SECONDS * 1_000_000,
    )
    try:
        await tx.execute(
            "INSERT INTO idempotency_keys (scope, request_id, request_hash, response, create_time)"
            " VALUES (?, ?, ?, ?, ?)",
            ctx.idempotency_scope,
            ctx.request_id,
            ctx.request_hash,
            b"",
            now,
        )
    except IntegrityError as exc:
        raise RequestReplayed("request_id recorded concurrently") from exc


async def fulfil(tx: Transaction, ctx: WriteContext, response: bytes) -> None:
    """Store the create's result under the key claimed in the same transaction."""
    if ctx.request_id:
        # Nobody reads the result: it may travel with the COMMIT.
        await tx.defer(
            "UPDATE idempotency_keys SET response = ? WHERE scope = ? AND request_id = ?",
            response,
            ctx.idempotency_scope,
            ctx.request_id,
        )


def _now_us() -> int:
    return time.time_ns() // 1000
