"""A fresh PostgreSQL database for a scenario, dropped when it ends.

The server is ``ALMANAC_BENCH_PG_URL`` (an admin URL; default the local
trust-auth ``postgres`` user). The database gets a random name, so runs on
one server never share rows; ``WITH (FORCE)`` drops it even if a service
the bench started still holds a connection.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench.proc import BenchError
from bench.servers import Store

__all__ = ["PG_ADMIN_URL", "fresh_postgres_store"]

PG_ADMIN_URL = os.environ.get(
    "ALMANAC_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def fresh_postgres_store() -> Iterator[Store]:
    """A `Store` on a new, empty database; the database is dropped on exit."""
    name = f"almanac_bench_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        where = urlsplit(PG_ADMIN_URL)
        raise BenchError(
            f"cannot create a database on PostgreSQL at {where.hostname}:{where.port or 5432}"
            f" (set ALMANAC_BENCH_PG_URL): {exc}"
        ) from exc
    try:
        url = urlunsplit(urlsplit(PG_ADMIN_URL)._replace(path=f"/{name}"))
        yield Store(url, secrets.token_urlsafe(24))
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
