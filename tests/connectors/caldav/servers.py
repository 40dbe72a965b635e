"""Real CalDAV servers for the tests: Radicale and Xandikos, each its own process.

`Radicale` runs ``python -m radicale`` on a free loopback port over a temp
folder with htpasswd (plain) authentication; `add_user` appends to that file
(Radicale reads it on each login), so each test gets a user of its own and a
wrong password is a real 401. `Xandikos` runs ``xandikos serve`` (one
principal, no authentication on plain HTTP: Xandikos only does Basic auth
behind TLS), so each Xandikos account is a server of its own.

Both expose ``http()``, a plain ``httpx.Client`` for reading and changing
the server as another client would.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

__all__ = ["DavServer", "Radicale", "Xandikos", "free_port"]

PASSWORD = "secret"
_RADICALE_CONF = """\
[server]
hosts = 127.0.0.1:{port}

[auth]
type = htpasswd
htpasswd_filename = {htpasswd}
htpasswd_encryption = plain

[rights]
type = owner_only

[storage]
filesystem_folder = {folder}

[web]
type = none

[logging]
level = warning
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class DavServer:
    """A server process on ``port``; ``root`` holds its data and log."""

    name = "dav"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> DavServer:
        with (self.root / f"{self.name}.log").open("ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited: {(self.root / f'{self.name}.log').read_text()[-2000:]}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Radicale(DavServer):
    name = "radicale"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.htpasswd = root / "users"
        self.htpasswd.write_text("")
        (root / "collections").mkdir(exist_ok=True)
        self.config = root / "radicale.conf"
        self.config.write_text(
            _RADICALE_CONF.format(
                port=self.port, htpasswd=self.htpasswd, folder=root / "collections"
            )
        )

    def command(self) -> list[str]:
        return [sys.executable, "-m", "radicale", "--config", str(self.config)]

    def add_user(self, user: str = "", password: str = PASSWORD) -> str:
        user = user or "u" + secrets.token_hex(5)
        with self.htpasswd.open("a") as f:
            f.write(f"{user}:{password}\n")
        return user

    def http(self, user: str) -> httpx.Client:
        return httpx.Client(base_url=self.base, auth=(user, PASSWORD), timeout=30)


class Xandikos(DavServer):
    name = "xandikos"

    def command(self) -> list[str]:
        exe = Path(sys.executable).with_name("xandikos")
        return [
            str(exe),
            "serve",
            "-d",
            str(self.root / "data"),
            "--defaults",
            "-l",
            "127.0.0.1",
            "-p",
            str(self.port),
            "--no-detect-systemd",
        ]

    def http(self, user: str = "") -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30)
