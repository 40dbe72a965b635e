"""Child processes: spawn, wait for ``READY``, run to a JSON answer, always clean up.

Children run in their own session, so a Ctrl-C in the terminal reaches only
the bench, which then stops them in order (SIGTERM, then SIGKILL after a
grace period). If the bench itself is SIGKILLed, ``PR_SET_PDEATHSIG`` still
makes the kernel send each child SIGTERM.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["ROOT", "BenchError", "Child", "ProcessGroup"]

# The repository root: children run there so ``-m bench.*`` and ``-m services`` import.
ROOT = Path(__file__).resolve().parents[1]

_STOP_GRACE_S = 10.0  # services drain 0.5 s and then stop; idle ones need far less
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


class BenchError(RuntimeError):
    """A child did not start, failed or timed out; the message has its log tail."""


def _die_with_parent() -> None:
    # Runs in the child between fork and exec. Safe because the bench process
    # starts no threads (it never makes gRPC calls itself).
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    address: str = ""
    _buffer: bytes = field(default=b"", repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join("    " + line for line in text.splitlines()[-lines:])

    def fail(self, why: str) -> BenchError:
        tail = self.log_tail()
        return BenchError(f"{self.name} (pid {self.pid}) {why}" + (f"\n{tail}" if tail else ""))


class ProcessGroup:
    """Owns every child it spawns; leaving the ``with`` block stops them all."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        # The bench's own environment passes through, so ALMANAC_* settings
        # (e.g. ALMANAC_ACCESS_LOG=false) can be tried without code changes.
        self.env = {**os.environ, **(env or {})}
        self._children: list[Child] = []
        self._count = 0

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def spawn(
        self,
        name: str,
        args: list[str],
        env: dict[str, str] | None = None,
        *,
        stdin: bool = False,
        cwd: Path | None = None,
    ) -> Child:
        """Start ``python <args>`` with stdout piped and stderr to ``<workdir>/<name>.log``.

        ``cwd`` defaults to the repository root (elsewhere, ``PYTHONPATH`` names it).
        """
        self._count += 1
        log_path = self.workdir / f"{self._count:02d}-{name}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                [sys.executable, *args],
                cwd=cwd or ROOT,
                env={**self.env, **({"PYTHONPATH": str(ROOT)} if cwd else {}), **(env or {})},
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                bufsize=0,  # raw pipe: the READY reader uses select + os.read
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        child = Child(name, popen, log_path)
        self._children.append(child)
        return child

    def start_server(
        self,
        name: str,
        args: list[str],
        env: dict[str, str] | None = None,
        timeout: float = 60.0,
        cwd: Path | None = None,
    ) -> Child:
        """Spawn a server and wait for its ``READY <name> <host:port>`` line."""
        child = self.spawn(name, args, env, cwd=cwd)
        child.address = self._wait_ready(child, timeout)
        return child

    def run_json(
        self, name: str, args: list[str], request: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        """Run a child that reads ``request`` as JSON on stdin and answers JSON on stdout."""
        child = self.spawn(name, args, stdin=True)
        try:
            out, _ = child.popen.communicate(json.dumps(request).encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            raise child.fail(f"did not finish within {timeout:.0f} s") from None
        if child.popen.returncode != 0:
            raise child.fail(f"exited with {child.popen.returncode}")
        self._children.remove(child)
        result: dict[str, Any] = json.loads(out)
        return result

    @staticmethod
    def _wait_ready(child: Child, timeout: float) -> str:
        assert child.popen.stdout is not None
        fd = child.popen.stdout.fileno()
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in child._buffer:
                line, child._buffer = child._buffer.split(b"\n", 1)
                parts = line.decode(errors="replace").split()
                if len(parts) == 3 and parts[0] == "READY":
                    return parts[2]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise child.fail(f"printed no READY line within {timeout:.0f} s")
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                raise child.fail(f"exited with {child.popen.wait()} before READY")
            child._buffer += chunk

    def close(self) -> None:
        """SIGTERM every live child, wait, SIGKILL stragglers; a second Ctrl-C is ignored."""
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            live = [c for c in self._children if c.popen.poll() is None]
            for child in live:
                child.popen.terminate()
            deadline = time.monotonic() + _STOP_GRACE_S
            for child in live:
                try:
                    child.popen.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.popen.kill()
                    child.popen.wait()
            for child in self._children:
                for pipe in (child.popen.stdin, child.popen.stdout):
                    if pipe is not None:
                        pipe.close()
            self._children.clear()
        finally:
            signal.signal(signal.SIGINT, previous)
