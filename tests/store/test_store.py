"""Behaviour of the state store, run against both backends (see conftest)."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import time
from pathlib import Path

import pytest

from connectors.store import (
    MIGRATIONS,
    IntegrityError,
    Migration,
    Store,
    StoreError,
    StoreUnavailable,
    apply_migrations,
    open_store,
)
from connectors.store.postgres import parse_postgres_url, to_numbered_placeholders
from connectors.store.sqlite import parse_sqlite_url

TABLES = (
    "meta",
    "accounts",
    "api_tokens",
    "calendars",
    "schedules",
    "activities",
    "idempotency_keys",
)
BIG_US = 1_767_225_600_123_456  # 2026-01-01 in microseconds: needs 64 bits


async def put_meta(store: Store, key: str, value: str) -> None:
    async with store.transaction() as tx:
        await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", key, value)


async def meta_keys(store: Store) -> list[str]:
    return [row["key"] for row in await store.fetchall("SELECT key FROM meta ORDER BY key")]


async def add_activity(store: Store, account: str = "acct") -> int:
    async with store.transaction() as tx:
        row = await tx.fetchone(
            "INSERT INTO activities"
            " (account_id, resource_type, resource_name, activity_type, create_time, body)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING cursor",
            account,
            "calendar",
            "accounts/acct/calendars/c1",
            1,
            BIG_US,
            b"\x00",
        )
    assert row is not None
    return int(row["cursor"])


# --- migrations --------------------------------------------------------------


async def test_migrations_create_tables_and_are_idempotent(store_url: str) -> None:
    first = await open_store(store_url, migrate=False)
    try:
        assert await apply_migrations(first) == [m.version for m in MIGRATIONS]
        for table in TABLES:
            row = await first.fetchone(f"SELECT count(*) FROM {table}")
            assert row is not None and row[0] == 0
        ledger = await first.fetchall("SELECT version, name, applied_at FROM schema_migrations")
        expected = [(m.version, m.name) for m in MIGRATIONS]
        assert [(r["version"], r["name"]) for r in ledger] == expected
        assert abs(ledger[0]["applied_at"] - time.time_ns() // 1000) < 60_000_000
    finally:
        await first.close()

    second = await open_store(store_url)  # migrates: nothing left to do
    try:
        assert await apply_migrations(second) == []
        again = await second.fetchall("SELECT version, name, applied_at FROM schema_migrations")
        assert [tuple(r) for r in again] == [tuple(r) for r in ledger]
    finally:
        await second.close()


async def test_later_migration_is_appended(store: Store) -> None:
    next_version = len(MIGRATIONS) + 1
    extra = Migration(
        next_version, "extra", ("CREATE TABLE extra (id TEXT PRIMARY KEY, n {BIGINT}, b {BLOB})",)
    )
    assert await apply_migrations(store, (*MIGRATIONS, extra)) == [next_version]
    assert await apply_migrations(store, (*MIGRATIONS, extra)) == []
    async with store.transaction() as tx:
        await tx.execute("INSERT INTO extra (id, n, b) VALUES (?, ?, ?)", "x", BIG_US, b"1")
    with pytest.raises(ValueError, match="in order"):
        await apply_migrations(store, (extra,))


async def test_concurrent_open_on_fresh_database(store_url: str) -> None:
    stores = await asyncio.gather(*(open_store(store_url) for _ in range(3)))
    try:
        rows = await stores[0].fetchall("SELECT version FROM schema_migrations")
        assert [r[0] for r in rows] == [m.version for m in MIGRATIONS]
        for s in stores:
            assert await s.fetchone("SELECT count(*) FROM calendars") is not None
    finally:
        await asyncio.gather(*(s.close() for s in stores))


_MIGRATE_AND_WRITE = """
import asyncio, os, sys, time
from connectors.store import open_store

async def main():
    time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # all open at one instant
    store = await open_store(sys.argv[1])
    async with store.transaction() as tx:
        await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", f"pid{os.getpid()}", "1")
    await store.close()

asyncio.run(main())
"""


async def test_several_processes_start_at_once(store_url: str) -> None:
    # Services started together open a fresh file at the same moment; the
    # switch to WAL must wait for the others instead of failing "locked".
    start_at = str(time.time() + 2.0)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _MIGRATE_AND_WRITE,
            store_url,
            start_at,
            cwd=Path(__file__).parents[2],
        )
        for _ in range(6)
    ]
    codes = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs)), 60)
    assert codes == [0] * 6
    store = await open_store(store_url)
    try:
        assert len(await meta_keys(store)) == 6
        rows = await store.fetchall("SELECT version FROM schema_migrations")
        assert [r[0] for r in rows] == [m.version for m in MIGRATIONS]
    finally:
        await store.close()


# --- reads and writes --------------------------------------------------------


async def test_round_trip_of_every_value_type(store: Store) -> None:
    body = bytes(range(256)) * 4  # NULs and invalid UTF-8 included
    async with store.transaction() as tx:
        inserted = await tx.execute(
            "INSERT INTO api_tokens (id, token_hash, body, revoked, create_time, expire_time)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            "tok-ü✓",
            "hash",
            body,
            1,
            BIG_US,
            None,
        )
        assert inserted == 1
        await tx.execute(
            "INSERT INTO api_tokens (id, token_hash, body, create_time, expire_time)"
            " VALUES (?, ?, ?, ?, ?)",
            "tok2",
            "hash2",
            b"",
            -5,
            BIG_US + 1,
        )
    row = await store.fetchone(
        "SELECT id, token_hash, body, revoked, create_time, expire_time"
        " FROM api_tokens WHERE id = ?",
        "tok-ü✓",
    )
    assert row is not None
    assert row["id"] == row[0] == "tok-ü✓"
    assert row["body"] == bytes(row[2]) == body and isinstance(row["body"], bytes)
    assert row["revoked"] == 1 and row["create_time"] == BIG_US
    assert row["expire_time"] is None
    rows = await store.fetchall("SELECT id, body, revoked, expire_time FROM api_tokens ORDER BY id")
    assert [(r["id"], r["body"], r["revoked"], r["expire_time"]) for r in rows] == [
        ("tok-ü✓", body, 1, None),
        ("tok2", b"", 0, BIG_US + 1),  # revoked took its DEFAULT
    ]
    assert await store.fetchone("SELECT id FROM api_tokens WHERE id = ?", "nope") is None
    assert await store.fetchall("SELECT id FROM api_tokens WHERE id = ?", "nope") == []


async def test_execute_returns_rowcount(store: Store) -> None:
    for key in ("a", "b", "c"):
        await put_meta(store, key, "old")
    async with store.transaction() as tx:
        assert await tx.execute("UPDATE meta SET value = ? WHERE key <> ?", "new", "c") == 2
        assert await tx.execute("DELETE FROM meta WHERE key = ?", "zzz") == 0
        assert await tx.fetchone("SELECT value FROM meta WHERE key = ?", "a") is not None


async def test_question_mark_inside_literal_is_not_a_placeholder(store: Store) -> None:
    await put_meta(store, "k", "v")
    row = await store.fetchone(
        "SELECT value, 'what?' AS lit FROM meta /* really? */ WHERE key = ?", "k"
    )
    assert row is not None and (row["value"], row["lit"]) == ("v", "what?")


# --- transactions ------------------------------------------------------------


async def test_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    await put_meta(store, "kept", "1")
    with pytest.raises(RuntimeError, match="boom"):
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "gone", "1")
            await tx.execute("UPDATE meta SET value = ? WHERE key = ?", "2", "kept")
            raise RuntimeError("boom")
    assert await meta_keys(store) == ["kept"]
    row = await store.fetchone("SELECT value FROM meta WHERE key = ?", "kept")
    assert row is not None and row["value"] == "1"
    await put_meta(store, "after", "1")  # the store is still usable
    assert await meta_keys(store) == ["after", "kept"]


async def test_duplicate_key_raises_integrity_error_and_rolls_back(store: Store) -> None:
    await put_meta(store, "a", "1")
    with pytest.raises(IntegrityError):
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "b", "1")
            await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "a", "2")
    assert await meta_keys(store) == ["a"]

    # A UNIQUE column (not the primary key) and a composite primary key.
    async with store.transaction() as tx:
        await tx.execute(
            "INSERT INTO api_tokens (id, token_hash, body, create_time) VALUES (?, ?, ?, ?)",
            "t1",
            "h",
            b"",
            1,
        )
    with pytest.raises(IntegrityError):
        async with store.transaction() as tx:
            await tx.execute(
                "INSERT INTO api_tokens (id, token_hash, body, create_time) VALUES (?, ?, ?, ?)",
                "t2",
                "h",
                b"",
                1,
            )
    insert_key = (
        "INSERT INTO idempotency_keys (scope, request_id, request_hash, response, create_time)"
        " VALUES (?, ?, ?, ?, ?)"
    )
    async with store.transaction() as tx:
        await tx.execute(insert_key, "s", "r", "h", b"", 1)
        await tx.execute(insert_key, "s", "r2", "h", b"", 1)
    with pytest.raises(IntegrityError):
        async with store.transaction() as tx:
            await tx.execute(insert_key, "s2", "r", "h", b"", 1)
            await tx.execute(insert_key, "s", "r", "h", b"", 1)
    rows = await store.fetchall("SELECT scope, request_id FROM idempotency_keys ORDER BY 1, 2")
    assert [tuple(r) for r in rows] == [("s", "r"), ("s", "r2")]


async def test_other_constraint_failures_are_not_integrity_errors(store: Store) -> None:
    with pytest.raises(StoreError) as info:
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "k", None)
    assert not isinstance(info.value, IntegrityError)
    with pytest.raises(StoreError):
        await store.fetchone("SELECT nope FROM meta")


async def test_statement_error_aborts_the_transaction(store: Store) -> None:
    # PostgreSQL aborts a transaction on any error; SQLite is made to match so
    # code that swallows an error and carries on fails on both backends.
    with pytest.raises(StoreError, match="rolled back"):
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "x", "1")
            with pytest.raises(IntegrityError):
                await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "x", "2")
            with pytest.raises(StoreError, match="aborted"):
                await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "y", "1")
    assert await meta_keys(store) == []


async def test_transaction_object_is_dead_after_the_block(store: Store) -> None:
    async with store.transaction() as tx:
        pass
    with pytest.raises(StoreError, match="closed"):
        await tx.execute("DELETE FROM meta")


async def test_nested_transaction_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="nest"):
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "outer", "1")
            async with store.transaction():
                pass
    assert await meta_keys(store) == []


async def test_cancelled_transaction_rolls_back(store: Store) -> None:
    entered = asyncio.Event()

    async def stuck() -> None:
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "cancelled", "1")
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(stuck())
    await asyncio.wait_for(entered.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(put_meta(store, "next", "1"), 5)
    assert await meta_keys(store) == ["next"]


async def test_cursor_strictly_increases(store: Store) -> None:
    cursors = [await add_activity(store) for _ in range(5)]
    async with store.transaction() as tx:
        for _ in range(3):
            row = await tx.fetchone(
                "INSERT INTO activities"
                " (account_id, resource_type, resource_name, activity_type, create_time, body)"
                " VALUES (?, ?, ?, ?, ?, ?) RETURNING cursor",
                "other",
                "schedule",
                "n",
                2,
                BIG_US,
                b"",
            )
            assert row is not None
            cursors.append(row[0])
    # Deleting the newest row must not let its cursor be handed out again.
    async with store.transaction() as tx:
        await tx.execute("DELETE FROM activities WHERE cursor = ?", cursors[-1])
    cursors.append(await add_activity(store))
    assert all(a < b for a, b in itertools.pairwise(cursors)), cursors
    rows = await store.fetchall(
        "SELECT cursor, calendar_id FROM activities WHERE account_id = ? AND cursor > ?"
        " ORDER BY cursor",
        "acct",
        cursors[1],
    )
    assert [r["cursor"] for r in rows] == [*cursors[2:5], cursors[-1]]
    assert {r["calendar_id"] for r in rows} == {""}


async def test_concurrent_writers_all_land(store: Store) -> None:
    async def writer(i: int) -> None:
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", f"k{i:02}", "a")
            await asyncio.sleep(0)  # let the others queue up mid-transaction
            await tx.execute("UPDATE meta SET value = ? WHERE key = ?", "b", f"k{i:02}")

    await asyncio.wait_for(asyncio.gather(*(writer(i) for i in range(20))), 30)
    rows = await store.fetchall("SELECT key, value FROM meta ORDER BY key")
    assert [(r[0], r[1]) for r in rows] == [(f"k{i:02}", "b") for i in range(20)]


async def test_reads_are_not_blocked_by_an_open_write_transaction(store: Store) -> None:
    await put_meta(store, "k", "committed")
    async with store.transaction() as tx:
        await tx.execute("UPDATE meta SET value = ? WHERE key = ?", "pending", "k")
        await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "new", "pending")
        outside = await asyncio.wait_for(
            store.fetchone("SELECT value FROM meta WHERE key = ?", "k"), 2
        )
        assert outside is not None and outside["value"] == "committed"
        rows = await asyncio.wait_for(store.fetchall("SELECT key FROM meta"), 2)
        assert [r["key"] for r in rows] == ["k"]
        inside = await tx.fetchone("SELECT value FROM meta WHERE key = ?", "k")
        assert inside is not None and inside["value"] == "pending"
    assert await meta_keys(store) == ["k", "new"]


# --- lifecycle ---------------------------------------------------------------


async def test_data_survives_close_and_reopen(store_url: str) -> None:
    first = await open_store(store_url)
    await put_meta(first, "persisted", "yes")
    await first.close()
    await first.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        await first.fetchone("SELECT 1")
    with pytest.raises(StoreError, match="closed"):
        async with first.transaction():
            pass
    second = await open_store(store_url)
    try:
        row = await second.fetchone("SELECT value FROM meta WHERE key = ?", "persisted")
        assert row is not None and row["value"] == "yes"
    finally:
        await second.close()


_KILL_AFTER_COMMIT = """
import asyncio, os, signal, sys
from connectors.store import open_store

async def main():
    store = await open_store(sys.argv[1])
    async with store.transaction() as tx:
        await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "durable", "yes")
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


async def test_commit_survives_sigkill(store_url: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _KILL_AFTER_COMMIT, store_url, cwd=Path(__file__).parents[2]
    )
    assert await asyncio.wait_for(proc.wait(), 60) == -9
    store = await open_store(store_url)
    try:
        row = await store.fetchone("SELECT value FROM meta WHERE key = ?", "durable")
        assert row is not None and row["value"] == "yes"
    finally:
        await store.close()


# --- URLs and failures -------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["mysql://u@h/db", "", "data/almanac.db", "http://example.com", "sqlite:/x.db"],
)
async def test_bad_url_raises_value_error(url: str) -> None:
    with pytest.raises(ValueError):
        await open_store(url)


@pytest.mark.parametrize(
    "url",
    ["sqlite:///", "sqlite:///:memory:", "sqlite:///x.db?readers=0", "sqlite:///x.db?bogus=1"],
)
def test_bad_sqlite_url(url: str) -> None:
    with pytest.raises(ValueError):
        parse_sqlite_url(url)


def test_sqlite_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_sqlite_url("sqlite:///./data/almanac.db") == (
        str(tmp_path / "data" / "almanac.db"),
        4,
    )
    assert parse_sqlite_url("sqlite:///rel/a.db?readers=2") == (str(tmp_path / "rel/a.db"), 2)
    assert parse_sqlite_url("sqlite:////abs/a%20b.db") == ("/abs/a b.db", 4)


async def test_relative_sqlite_url_creates_parent_dirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = await open_store("sqlite:///./data/nested/almanac.db")
    await store.close()
    assert (tmp_path / "data" / "nested" / "almanac.db").is_file()


def test_postgres_url_options() -> None:
    opts = parse_postgres_url("postgres://u@h:6543/db?pool_max=3&sslmode=disable")
    assert (opts.pool_min, opts.pool_max) == (1, 3)
    assert opts.dsn == "postgres://u@h:6543/db?sslmode=disable"
    assert parse_postgres_url("postgresql://u@h/db").dsn == "postgresql://u@h/db"
    for bad in ("postgresql://h/db?pool_max=0", "postgresql://h/db?pool_min=5&pool_max=2"):
        with pytest.raises(ValueError):
            parse_postgres_url(bad)


def test_placeholder_rewrite() -> None:
    assert to_numbered_placeholders("SELECT 1") == "SELECT 1"
    assert (
        to_numbered_placeholders("UPDATE t SET a = ?, b = '?''?' WHERE \"c?\" = ? -- ?\n AND d = ?")
        == "UPDATE t SET a = $1, b = '?''?' WHERE \"c?\" = $2 -- ?\n AND d = $3"
    )


async def test_unreachable_postgres_raises_store_unavailable() -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await open_store("postgresql://postgres@127.0.0.1:1/postgres?connect_timeout=5")
    assert time.monotonic() - started < 5


async def test_unusable_sqlite_path_raises_store_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreUnavailable):
        await open_store(f"sqlite:///{blocker}/sub/almanac.db")
    with pytest.raises(StoreUnavailable):
        await open_store(f"sqlite:///{tmp_path}")  # a directory, not a file


async def test_open_fails_cleanly_on_a_non_database_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(StoreError):
        await open_store(f"sqlite:///{junk}")


async def test_executemany_inserts_every_row_in_one_transaction(store: Store) -> None:
    rows = [(f"k{i}", f"v{i}") for i in range(50)]
    async with store.transaction() as tx:
        await tx.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", rows)
    got = await store.fetchall("SELECT key, value FROM meta WHERE key LIKE 'k%' ORDER BY key")
    assert sorted((r["key"], r["value"]) for r in got) == sorted(rows)


async def test_executemany_failure_rolls_back_the_whole_batch(store: Store) -> None:
    with pytest.raises(IntegrityError):
        async with store.transaction() as tx:
            await tx.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)", [("dup", "1"), ("dup", "2")]
            )
    assert await store.fetchone("SELECT value FROM meta WHERE key = 'dup'") is None


async def test_deferred_write_commits_with_the_transaction(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.defer("INSERT INTO meta (key, value) VALUES (?, ?)", "deferred", "1")
        # A later statement in the same transaction sees it.
        row = await tx.fetchone("SELECT value FROM meta WHERE key = ?", "deferred")
        assert row is not None and row["value"] == "1"
        await tx.defer("INSERT INTO meta (key, value) VALUES (?, ?)", "deferred-last", "2")
    rows = await store.fetchall("SELECT key FROM meta WHERE key LIKE 'deferred%' ORDER BY key")
    assert [r["key"] for r in rows] == ["deferred", "deferred-last"]


async def test_failing_deferred_write_rolls_everything_back(store: Store) -> None:
    with pytest.raises(IntegrityError):
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "kept?", "1")
            await tx.defer("INSERT INTO meta (key, value) VALUES (?, ?)", "kept?", "dup")
    assert await store.fetchone("SELECT value FROM meta WHERE key = 'kept?'") is None
    # The store is usable afterwards.
    async with store.transaction() as tx:
        await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", "after", "1")
    assert await store.fetchone("SELECT value FROM meta WHERE key = 'after'") is not None
