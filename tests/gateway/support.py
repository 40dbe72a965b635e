"""Processes and clients of the gateway tests (not a test module).

The services and the gateway run as real processes on free ports; the
tests speak HTTP to the gateway with httpx.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import REPO_ROOT, ServiceProcess, service_env, start_service, unique_id

__all__ = [
    "FULL_NAMES",
    "Stack",
    "compile_test_protos",
    "start_gateway",
    "start_process",
    "start_stack",
]

HERE = Path(__file__).resolve().parent
FULL_NAMES = {
    "account": "almanac.v1.AccountService",
    "calendar": "almanac.v1.CalendarService",
    "event": "almanac.v1.EventService",
    "availability": "almanac.v1.AvailabilityService",
    "activity": "almanac.v1.ActivityService",
}


def start_process(
    name: str, args: Sequence[str], env: Mapping[str, str], log_dir: Path, timeout: float = 60
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Run ``args``, wait for ``READY <name> <where>``; the process, where, its log."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(args), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(env), cwd=REPO_ROOT,
        )  # fmt: skip
    deadline = time.monotonic() + timeout
    prefix = f"READY {name} "
    while time.monotonic() < deadline and proc.poll() is None:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith(prefix):
                return proc, line[len(prefix) :].strip(), log
        time.sleep(0.05)
    proc.kill()
    proc.wait(10)
    raise RuntimeError(f"{name} did not start:\n{log.read_text(errors='replace')[-5000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def compile_test_protos(out: Path) -> Path:
    """Compile protos/gwtest.proto into ``out``; returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", str(HERE / "protos"),
         "-I", "protos/third_party", f"--python_out={out}", f"--grpc_python_out={out}",
         "gwtest.proto"],
        check=True, cwd=REPO_ROOT,
    )  # fmt: skip
    return out


def start_gateway(
    targets: Mapping[str, str], log_dir: Path, *extra: str, pythonpath: str = ""
) -> tuple[subprocess.Popen[bytes], str]:
    args = [sys.executable, "-m", "gateway", "--port", "0"]
    for service, address in targets.items():
        args += ["--target", f"{service}={address}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
    proc, url, _ = start_process("gateway", [*args, *extra], env, log_dir)
    return proc, url


@dataclass
class Stack:
    """The five served services, a gateway in front of them, and the admin token."""

    url: str
    admin: str
    addresses: dict[str, str]
    log_dir: Path
    procs: list[Any] = field(default_factory=list)

    def client(self, token: str | None = "", **kwargs: Any) -> httpx.Client:
        """An httpx client of the gateway; ``""`` = admin token, None = no token."""
        headers = dict(kwargs.pop("headers", {}))
        secret = self.admin if token == "" else token
        if secret is not None:
            headers["authorization"] = f"Bearer {secret}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=20, **kwargs)

    def new_account(self) -> str:
        """A fresh local account's name, created through the gateway."""
        with self.client() as http:
            reply = http.post(
                "/v1/accounts", params={"accountId": unique_id()},
                json={"connector": "CONNECTOR_TYPE_LOCAL", "settings": {"local": {}},
                      "displayName": "GW"},
            )  # fmt: skip
        assert reply.status_code == 200, reply.text
        return str(reply.json()["name"])

    def token(self, account: str, *scopes: str) -> str:
        with self.client() as http:
            reply = http.post(
                "/v1/apiTokens",
                json={"displayName": "gw", "scopes": list(scopes), "accounts": [account]},
            )
        assert reply.status_code == 200, reply.text
        return str(reply.json()["secret"])

    def close(self) -> None:
        for proc in reversed(self.procs):
            if isinstance(proc, ServiceProcess):
                proc.terminate()
            else:
                stop(proc)


def start_stack(root: Path, *gateway_args: str, **settings: str) -> Stack:
    secret = "gw-" + uuid.uuid4().hex
    env = service_env(f"sqlite:///{root / 'almanac.db'}", secret, **settings)
    stack = Stack("", secret, {}, root / "logs")
    try:
        for name in FULL_NAMES:  # one after the other: the first migrates the store
            proc = start_service(name, env, stack.log_dir)
            stack.procs.append(proc)
            stack.addresses[FULL_NAMES[name]] = proc.address
        gw, stack.url = start_gateway(stack.addresses, stack.log_dir, *gateway_args)
        stack.procs.append(gw)
    except BaseException:
        stack.close()
        raise
    return stack


def lines(response: httpx.Response) -> Iterator[str]:
    for line in response.iter_lines():
        if line:
            yield line
