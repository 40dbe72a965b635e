"""A fresh PostgreSQL database for a scenario, dropped when it ends.

The machine's server (``ALMANAC_BENCH_PG_URL``, default
postgresql://postgres@127.0.0.1:5432/postgres, trust auth) hosts it; the
bench process only creates and drops databases, it never serves calls.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench.proc import BenchError

__all__ = ["ADMIN_URL", "fresh_database"]

ADMIN_URL = os.environ.get("ALMANAC_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _admin(sql: str) -> None:
    try:
        conn = await asyncpg.connect(ADMIN_URL, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        raise BenchError(f"PostgreSQL at {ADMIN_URL} is not reachable: {exc}") from exc
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def fresh_database(prefix: str = "almanac_bench") -> Iterator[str]:
    """Yield the URL of a new, empty database; drop it afterwards."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{name}"))
    finally:
        # FORCE: a server the scenario failed to stop may still hold connections.
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
