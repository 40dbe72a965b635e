"""Starting the things the scenarios measure: bare echo servers and Almanac services."""

from __future__ import annotations

import base64
import hashlib
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.proc import Child, ProcessGroup

__all__ = ["Store", "seed_calendar", "start_echo", "start_service"]


@dataclass(frozen=True)
class Store:
    """A fresh SQLite store and the bootstrap admin token its first service creates."""

    url: str
    token: str

    @classmethod
    def at(cls, url: str) -> Store:
        """A store at ``url`` (e.g. a `bench.pgdb` database) with a new token."""
        return cls(url, secrets.token_urlsafe(24))

    @classmethod
    def fresh(cls, workdir: Path) -> Store:
        # An absolute path gives the four slashes: sqlite:////tmp/.../almanac.db
        return cls(f"sqlite:///{workdir / 'almanac.db'}", secrets.token_urlsafe(24))

    @property
    def env(self) -> dict[str, str]:
        # Connector secrets are encrypted at rest; every process of the store
        # derives the same key from its token.
        key = base64.urlsafe_b64encode(hashlib.sha256(self.token.encode()).digest()).decode()
        return {
            "ALMANAC_STORE_URL": self.url,
            "ALMANAC_BOOTSTRAP_TOKEN": self.token,
            "ALMANAC_SECRET_KEY": key,
        }


def start_echo(group: ProcessGroup, mode: str) -> Child:
    """A bare ``aio`` or ``sync`` echo server (`bench.echo`) on a free loopback port."""
    return group.start_server(f"echo-{mode}", ["-m", "bench.echo", mode])


def start_service(group: ProcessGroup, name: str, store: Store) -> Child:
    """``python -m services serve <name> --port 0`` on ``store``.

    Start services on a shared store one after another: the first one
    migrates the schema and creates the bootstrap token.
    """
    return group.start_server(name, ["-m", "services", "serve", name, "--port", "0"], store.env)


def seed_calendar(
    group: ProcessGroup, store: Store, calendar: Child, ics: Path, name: str, budget: float = 900
) -> None:
    """Import ``ics`` into the calendar ``name`` with ``almanac import``, through ``calendar``."""
    host, _, port = calendar.address.rpartition(":")
    env = {
        **store.env,
        "ALMANAC_HOST": host,
        "ALMANAC_CALENDAR_PORT": port,
        "ALMANAC_TOKEN": store.token,
    }
    child = group.spawn(f"seed-{calendar.name}", ["-m", "services", "import", str(ics),
                                                 "--calendar", name], env)  # fmt: skip
    try:
        code = child.popen.wait(budget)
    except subprocess.TimeoutExpired:
        raise child.fail(f"did not import {ics.name} within {budget:.0f} s") from None
    if code != 0:
        raise child.fail(f"could not import {ics.name} (exit status {code})")
