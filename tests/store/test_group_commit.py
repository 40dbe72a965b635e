"""SQLite group commit: concurrent store transactions share one COMMIT (and
one fsync) and each stays all-or-nothing (connectors/store/sqlite/transaction.py)."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors.store import IntegrityError, StoreUnavailable, open_store
from connectors.store.sqlite import SqliteStore
from connectors.store.sqlite.transaction import MAX_GROUP


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await open_store(f"sqlite:///{tmp_path}/almanac.db")
    assert isinstance(opened, SqliteStore)
    yield opened
    await opened.close()


async def _keys(store: SqliteStore) -> list[str]:
    return [r["key"] for r in await store.fetchall("SELECT key FROM meta ORDER BY key")]


async def _insert(store: SqliteStore, key: str, *, fail: bool = False) -> None:
    async with store.transaction() as tx:
        await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", key, "v")
        await asyncio.sleep(0)  # let the others queue up behind this block
        await tx.execute("UPDATE meta SET value = ? WHERE key = ?", "w", key)
        if fail:
            raise RuntimeError("the block fails after writing")


async def test_concurrent_blocks_share_commits(store: SqliteStore) -> None:
    before = store.groups_committed
    await asyncio.gather(*(_insert(store, f"k{i:02}") for i in range(40)))
    assert await _keys(store) == [f"k{i:02}" for i in range(40)]
    commits = store.groups_committed - before
    assert 1 <= commits < 40 / 4, f"{commits} COMMITs for 40 concurrent blocks"


async def test_a_lone_block_commits_without_waiting(store: SqliteStore) -> None:
    before = store.groups_committed
    await asyncio.wait_for(_insert(store, "alone"), 2)
    assert store.groups_committed - before == 1
    # Visible to every reader (and so to other processes) once the block returned.
    row = await store.fetchone("SELECT value FROM meta WHERE key = ?", "alone")
    assert row is not None and row["value"] == "w"


async def test_a_failing_block_leaves_the_rest_of_its_group(store: SqliteStore) -> None:
    results = await asyncio.gather(
        *(_insert(store, f"k{i:02}", fail=i % 3 == 0) for i in range(12)),
        return_exceptions=True,
    )
    failed = [i for i, r in enumerate(results) if isinstance(r, RuntimeError)]
    assert failed == [0, 3, 6, 9]
    assert await _keys(store) == [f"k{i:02}" for i in range(12) if i % 3]


async def test_an_integrity_error_in_one_block_spares_the_others(store: SqliteStore) -> None:
    async with store.transaction() as tx:
        await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "taken", "v")

    async def duplicate() -> None:
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "dup-side", "v")
            await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "taken", "v")

    results = await asyncio.gather(
        _insert(store, "a"), duplicate(), _insert(store, "b"), return_exceptions=True
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], IntegrityError)
    assert await _keys(store) == ["a", "b", "taken"]


async def test_a_failing_deferred_write_undoes_only_its_block(store: SqliteStore) -> None:
    async def deferred_duplicate() -> None:
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "x-side", "v")
            await tx.defer("INSERT INTO meta (key, value) VALUES (?, ?)", "x-side", "again")

    results = await asyncio.gather(
        _insert(store, "a"), deferred_duplicate(), _insert(store, "b"), return_exceptions=True
    )
    assert isinstance(results[1], IntegrityError)
    assert results[0] is None and results[2] is None
    assert await _keys(store) == ["a", "b"]


async def test_a_lost_group_fails_every_block_and_writes_nothing(store: SqliteStore) -> None:
    # A ROLLBACK from inside a block drops SQLite's whole transaction, as an
    # I/O error or a full disk would: the blocks already in the group must fail.
    # The three blocks queue at the write lock in this order, so they form one group.
    async def early(key: str) -> None:
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", key, "v")

    async def breaker() -> None:
        async with store.transaction() as tx:
            await tx.execute("ROLLBACK")

    results = await asyncio.gather(early("a"), early("b"), breaker(), return_exceptions=True)
    assert all(isinstance(r, StoreUnavailable) for r in results), results
    assert await _keys(store) == []
    # The store carries on with a new group.
    await _insert(store, "after")
    assert await _keys(store) == ["after"]


async def test_groups_are_capped(store: SqliteStore) -> None:
    before = store.groups_committed
    n = MAX_GROUP * 3
    await asyncio.gather(*(_insert(store, f"k{i:04}") for i in range(n)))
    assert len(await _keys(store)) == n
    assert store.groups_committed - before >= 3


async def test_activity_cursors_follow_block_order(store: SqliteStore) -> None:
    order: list[int] = []

    async def append(i: int) -> None:
        async with store.transaction() as tx:
            order.append(i)  # the order blocks hold the write lock in
            await tx.execute(
                "INSERT INTO activities (account_id, calendar_id, resource_type, resource_name,"
                " activity_type, create_time, body) VALUES (?, '', 'EVENT', ?, 1, 0, x'')",
                "a", f"r{i}",
            )  # fmt: skip

    await asyncio.gather(*(append(i) for i in range(30)))
    rows = await store.fetchall("SELECT resource_name FROM activities ORDER BY cursor")
    assert [r["resource_name"] for r in rows] == [f"r{i}" for i in order]


async def test_close_commits_the_open_group(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/almanac.db"
    store = await open_store(url)
    writes = [asyncio.ensure_future(_insert(store, f"k{i}")) for i in range(5)]  # type: ignore[arg-type]
    await asyncio.sleep(0)
    await store.close()
    await asyncio.gather(*writes, return_exceptions=True)
    acked = [f"k{i}" for i, w in enumerate(writes) if w.exception() is None]
    again = await open_store(url)
    try:
        rows = await again.fetchall("SELECT key FROM meta ORDER BY key")
        assert [r["key"] for r in rows] == acked
    finally:
        await again.close()


_KILL_AFTER_GROUP = """
import asyncio, os, signal, sys
from connectors.store import open_store

async def main():
    store = await open_store(sys.argv[1])
    async def put(i):
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", f"k{i:02}", "v")
            await asyncio.sleep(0)
        print(f"k{i:02}", flush=True)  # acknowledged
    await asyncio.gather(*(put(i) for i in range(30)))
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


async def test_acknowledged_group_writes_survive_sigkill(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/almanac.db"
    store = await open_store(url)
    await store.close()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _KILL_AFTER_GROUP, url,
        cwd=Path(__file__).parents[2], stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == -signal.SIGKILL
    acked = out.decode().split()
    assert len(acked) == 30
    again = await open_store(url)
    try:
        rows = await again.fetchall("SELECT key FROM meta ORDER BY key")
        assert [r["key"] for r in rows] == sorted(acked)
    finally:
        await again.close()


async def test_a_block_that_never_reaches_sqlite_commits_nothing(store: SqliteStore) -> None:
    before = store.groups_committed
    async with store.transaction():
        pass
    assert store.groups_committed == before
    # The next block still begins its own transaction properly.
    await _insert(store, "next")
    assert await _keys(store) == ["next"]


async def test_a_deferred_only_block_is_written(store: SqliteStore) -> None:
    async with store.transaction() as tx:
        await tx.defer("INSERT INTO meta (key, value) VALUES (?, ?)", "deferred", "v")
    assert await _keys(store) == ["deferred"]


async def test_a_failing_first_block_does_not_lose_the_group(store: SqliteStore) -> None:
    # The first block opens the group's transaction and fails; the blocks
    # queued behind it must still land, in a transaction that began.
    results = await asyncio.gather(
        _insert(store, "first", fail=True), _insert(store, "second"), _insert(store, "third"),
        return_exceptions=True,
    )  # fmt: skip
    assert isinstance(results[0], RuntimeError) and results[1:] == [None, None]
    assert await _keys(store) == ["second", "third"]


async def test_point_reads_follow_every_commit(store: SqliteStore, tmp_path: Path) -> None:
    # fetchone answers repeated reads from memory; a commit by this process's
    # writer or by another process's must be seen at once.
    await _insert(store, "k")
    read = "SELECT value FROM meta WHERE key = ?"
    first = await store.fetchone(read, "k")
    assert first is not None and first["value"] == "w"
    async with store.transaction() as tx:
        await tx.execute("UPDATE meta SET value = ? WHERE key = ?", "changed", "k")
    again = await store.fetchone(read, "k")
    assert again is not None and again["value"] == "changed"
    other = await open_store(f"sqlite:///{tmp_path}/almanac.db")
    try:
        async with other.transaction() as tx:
            await tx.execute("UPDATE meta SET value = ? WHERE key = ?", "elsewhere", "k")
            await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "new", "v")
    finally:
        await other.close()
    seen = await store.fetchone(read, "k")
    assert seen is not None and seen["value"] == "elsewhere"
    assert await store.fetchone(read, "new") is not None
