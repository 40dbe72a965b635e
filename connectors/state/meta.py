"""Deployment-wide values kept in the store's ``meta`` table."""

from __future__ import annotations

import secrets

from connectors.store import IntegrityError, Store

__all__ = ["deployment_secret"]


async def deployment_secret(store: Store, key: str) -> str:
    """A random secret shared by every process of the deployment, made once."""
    row = await store.fetchone("SELECT value FROM meta WHERE key = ?", key)
    if row is None:
        try:
            async with store.transaction() as tx:
                await tx.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?)", key, secrets.token_hex(32)
                )
        except IntegrityError:
            pass  # another process won the race; read its value
        row = await store.fetchone("SELECT value FROM meta WHERE key = ?", key)
    assert row is not None
    return str(row["value"])
