"""API tokens: random 256-bit secrets, stored only as their SHA-256.

A single SHA-256 is enough for these (a slow password hash protects
low-entropy secrets, which these are not) and keeps authentication to one
indexed lookup per call, cached for a second.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from almanac.v1 import account_service_pb2 as acc_pb

from connectors.base import Page, PageRequest, WriteContext
from connectors.errors import AlreadyExists, NotFound, Unauthenticated
from connectors.state.grants import Principal
from connectors.state.idempotency import claim, fulfil
from connectors.store import IntegrityError, Store
from connectors.store.rows import new_id, now_us, timestamp_from_us, us_from_timestamp

__all__ = ["TOKEN_CACHE_SECONDS", "Tokens", "hash_secret", "new_secret", "token_within"]

# How long a validated token is trusted without asking the store again; a
# revocation reaches every process within this time.
TOKEN_CACHE_SECONDS = 1.0


def new_secret() -> str:
    return "alm_" + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class _Cached:
    principal: Principal
    until: float


class Tokens:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._tokens: dict[str, _Cached] = {}

    # -- authentication -------------------------------------------------

    async def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise Unauthenticated("missing bearer token: send `authorization: Bearer <token>`")
        now = time.monotonic()
        # Keyed by the token itself, not its hash: hashing is the dearest step
        # of a cached check, and the cache lives only in this process's memory.
        cached = self._tokens.get(token)
        if cached is not None and cached.until > now:
            return cached.principal
        key = hash_secret(token)
        row = await self.store.fetchone(
            "SELECT body, revoked, expire_time FROM api_tokens WHERE token_hash = ?", key
        )
        if row is None or row["revoked"]:
            self._tokens.pop(token, None)
            raise Unauthenticated("invalid or revoked token", reason="INVALID_TOKEN")
        if row["expire_time"] is not None and row["expire_time"] <= now_us():
            raise Unauthenticated("token expired", reason="TOKEN_EXPIRED")
        token_pb = acc_pb.ApiToken.FromString(bytes(row["body"]))
        principal = Principal(
            token_id=token_pb.name,
            scopes=frozenset(token_pb.scopes),
            accounts=frozenset(a.split("/", 1)[1] for a in token_pb.accounts)
            if token_pb.accounts
            else None,
        )
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[token] = _Cached(principal, now + TOKEN_CACHE_SECONDS)
        return principal

    # -- tokens ---------------------------------------------------------

    async def create_token(
        self, token: acc_pb.ApiToken, ctx: WriteContext, secret: str | None = None
    ) -> tuple[acc_pb.ApiToken, str]:
        secret = secret or new_secret()
        stored = acc_pb.ApiToken()
        stored.CopyFrom(token)
        stored.name = f"apiTokens/{new_id()}"
        now = now_us()
        stored.create_time.CopyFrom(timestamp_from_us(now))
        expire = None
        if stored.HasField("expire_time"):
            expire = us_from_timestamp(stored.expire_time)
        body = stored.SerializeToString(deterministic=True)
        async with self.store.transaction() as tx:
            await claim(tx, ctx)
            try:
                await tx.execute(
                    "INSERT INTO api_tokens (id, token_hash, body, revoked, create_time,"
                    " expire_time) VALUES (?, ?, ?, 0, ?, ?)",
                    stored.name.split("/", 1)[1],
                    hash_secret(secret),
                    body,
                    now,
                    expire,
                )
            except IntegrityError as exc:
                raise AlreadyExists("a token with this secret already exists") from exc
            await fulfil(tx, ctx, body)
        return stored, secret

    async def list_tokens(
        self, page: PageRequest, show_revoked: bool, only: frozenset[str] | None
    ) -> Page[acc_pb.ApiToken]:
        """Newest first; with ``only``, just the tokens confined to those accounts."""
        where = "" if show_revoked else "WHERE revoked = 0"
        rows = await self.store.fetchall(
            f"SELECT id, body, create_time FROM api_tokens {where} ORDER BY create_time DESC, id"
        )
        tokens = [acc_pb.ApiToken.FromString(bytes(r["body"])) for r in rows]
        if only is not None:
            tokens = [t for t in tokens if token_within(t, only)]
        start = int(page.position or 0)
        more = start + page.size < len(tokens)
        return Page(tokens[start : start + page.size], str(start + page.size) if more else None)

    async def get_token(self, token_id: str) -> acc_pb.ApiToken:
        row = await self.store.fetchone("SELECT body FROM api_tokens WHERE id = ?", token_id)
        if row is None:
            raise NotFound(f"token apiTokens/{token_id} not found")
        return acc_pb.ApiToken.FromString(bytes(row["body"]))

    async def revoke_token(self, token_id: str) -> acc_pb.ApiToken:
        async with self.store.transaction() as tx:
            row = await tx.fetchone("SELECT body, revoked FROM api_tokens WHERE id = ?", token_id)
            if row is None:
                raise NotFound(f"token apiTokens/{token_id} not found")
            token = acc_pb.ApiToken.FromString(bytes(row["body"]))
            if row["revoked"]:
                return token
            token.revoke_time.CopyFrom(timestamp_from_us(now_us()))
            await tx.execute(
                "UPDATE api_tokens SET revoked = 1, body = ? WHERE id = ?",
                token.SerializeToString(deterministic=True),
                token_id,
            )
        self._tokens.clear()
        return token


def token_within(token: acc_pb.ApiToken, accounts: frozenset[str]) -> bool:
    """Whether ``token`` reaches only ``accounts`` (an every-account token never does)."""
    return bool(token.accounts) and all(a.split("/", 1)[1] in accounts for a in token.accounts)
