"""Store transactions timed from outside (services.runtime.metrics.instrument_store)."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from connectors.store import IntegrityError, Store
from services.runtime.metrics import instrument_store

NAME = "almanac_store_transaction_duration_seconds"


def _count(store: Store, outcome: str) -> float:
    labels = {"dialect": store.dialect, "outcome": outcome}
    return REGISTRY.get_sample_value(f"{NAME}_count", labels) or 0.0


async def test_transactions_are_timed_by_dialect_and_outcome(store: Store) -> None:
    instrument_store(store)
    instrument_store(store)  # idempotent: still one observation per transaction
    commits, rollbacks = _count(store, "commit"), _count(store, "rollback")
    async with store.transaction() as tx:
        await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "kept", "v")
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "dropped", "v")
            raise RuntimeError("the body fails")
    with pytest.raises(IntegrityError):
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "kept", "again")
    assert _count(store, "commit") == commits + 1
    assert _count(store, "rollback") == rollbacks + 2
    # Timing changed nothing of what the transactions did.
    kept = await store.fetchone("SELECT value FROM meta WHERE key = ?", "kept")
    assert kept is not None and kept[0] == "v"
    assert await store.fetchone("SELECT value FROM meta WHERE key = ?", "dropped") is None
    total = REGISTRY.get_sample_value(
        f"{NAME}_sum", {"dialect": store.dialect, "outcome": "commit"}
    )
    assert total is not None and total > 0
