"""Fixtures running every store test against SQLite and PostgreSQL.

PostgreSQL: one scratch database per session (dropped at the end) and a fresh
schema per test, selected through ``search_path`` in the store URL, so every
test starts from an empty, unmigrated database at the cost of a CREATE SCHEMA.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from connectors.store import Store, open_store

__all__ = ["PG_ADMIN_URL", "PgScratch", "pg_reachable"]

PG_ADMIN_URL = os.environ.get(
    "ALMANAC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

_reachable: bool | None = None


def pg_reachable() -> bool:
    """Whether anything answers on the PostgreSQL port (checked once)."""
    global _reachable
    if _reachable is None:
        parts = urlsplit(PG_ADMIN_URL)
        try:
            with socket.create_connection((parts.hostname, parts.port or 5432), timeout=1):
                _reachable = True
        except OSError:
            _reachable = False
    return _reachable


class PgScratch:
    """A throwaway database, created on first use, handing out fresh schemas."""

    def __init__(self, admin_url: str) -> None:
        self._admin_url = admin_url
        self._name = f"almanac_test_{uuid.uuid4().hex[:12]}"
        self.url: str | None = None

    async def new_schema_url(self) -> str:
        if self.url is None:
            admin = await asyncpg.connect(self._admin_url)
            try:
                await admin.execute(f'CREATE DATABASE "{self._name}"')
            finally:
                await admin.close()
            self.url = urlunsplit(urlsplit(self._admin_url)._replace(path=f"/{self._name}"))
        schema = f"t_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute(f'CREATE SCHEMA "{schema}"')
        finally:
            await conn.close()
        return f"{self.url}?search_path={schema}"

    async def drop(self) -> None:
        if self.url is None:
            return
        admin = await asyncpg.connect(self._admin_url)
        try:
            # FORCE: a test that failed mid-way may have left connections behind.
            await admin.execute(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="session")
async def pg_scratch() -> AsyncIterator[PgScratch]:
    scratch = PgScratch(PG_ADMIN_URL)
    yield scratch
    await scratch.drop()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def store_url(
    request: pytest.FixtureRequest, tmp_path: os.PathLike[str], pg_scratch: PgScratch
) -> str:
    """URL of a fresh, empty (unmigrated) database."""
    if request.param == "sqlite":
        return f"sqlite:///{os.fspath(tmp_path)}/almanac.db"
    if not pg_reachable():
        where = urlsplit(PG_ADMIN_URL)
        pytest.skip(f"no PostgreSQL server answers at {where.hostname}:{where.port or 5432}")
    return await pg_scratch.new_schema_url()


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """An open, migrated store on a fresh database."""
    opened = await open_store(store_url)
    yield opened
    await opened.close()
