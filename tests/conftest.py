"""Shared fixtures: the real account, calendar and event services, per store.

``almanac`` is the running set of services the test talks to: by default on
a temporary SQLite store; tests decorated with ``tests.helpers.on_each_store``
run once more against a scratch PostgreSQL database. The processes of each
store start once per session (lazily) and are stopped with SIGTERM (then
SIGKILL) at the end. ``account`` is a fresh local account per test, so tests
share the processes without seeing each other's data.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from tests.helpers import (
    PG_ADMIN_URL,
    Almanac,
    ServiceProcess,
    TestAccount,
    pg_reachable,
    service_env,
    start_service,
)


def _start_pair(store_url: str, log_dir: Path) -> tuple[Almanac, list[ServiceProcess]]:
    secret = "e2e-" + secrets.token_hex(16)
    env = service_env(store_url, secret)
    procs: list[ServiceProcess] = []
    try:
        # One after the other: the first migrates and bootstraps the store.
        for name in ("account", "calendar", "event"):
            procs.append(start_service(name, env, log_dir))
    except BaseException:
        for proc in procs:
            proc.terminate()
        raise
    almanac = Almanac(procs[0].address, procs[1].address, secret, store_url, procs[2].address)
    return almanac, procs


def _stop_pair(almanac: Almanac, procs: list[ServiceProcess]) -> None:
    almanac.close()
    for proc in procs:
        proc.terminate()


@pytest.fixture(scope="session")
def almanac_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Almanac]:
    """Account, calendar and event services on a fresh SQLite store."""
    root = tmp_path_factory.mktemp("almanac-sqlite")
    almanac, procs = _start_pair(f"sqlite:///{root / 'almanac.db'}", root / "logs")
    yield almanac
    _stop_pair(almanac, procs)


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """URL of a scratch PostgreSQL database, dropped at the end of the session."""
    if not pg_reachable():
        where = urlsplit(PG_ADMIN_URL)
        pytest.skip(f"no PostgreSQL server answers at {where.hostname}:{where.port or 5432}")
    name = f"almanac_e2e_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(urlsplit(PG_ADMIN_URL)._replace(path=f"/{name}"))
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def almanac_postgresql(
    postgres_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Almanac]:
    """Account, calendar and event services on a scratch PostgreSQL database."""
    root = tmp_path_factory.mktemp("almanac-pg")
    almanac, procs = _start_pair(postgres_database, root / "logs")
    yield almanac
    _stop_pair(almanac, procs)


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """``sqlite`` unless parametrized (see ``tests.helpers.on_each_store``)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def almanac(store_kind: str, request: pytest.FixtureRequest) -> Almanac:
    """The running services of the test's store."""
    if store_kind not in ("sqlite", "postgresql"):
        raise ValueError(f"unknown store kind {store_kind!r}")
    running: Almanac = request.getfixturevalue(f"almanac_{store_kind}")
    return running


@pytest.fixture
def account(almanac: Almanac) -> TestAccount:
    """A fresh local account (``accounts/t-<hex>``) with its primary calendar."""
    return TestAccount(almanac, almanac.create_local_account(display_name="E2E"))
