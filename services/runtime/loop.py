"""Running a server process's main coroutine on the configured event loop.

uvloop (libuv) schedules callbacks and handles sockets for less CPU than the
standard loop; grpc.aio drives its own completion queue from whichever loop
runs it, so the choice is invisible to servicers. `asyncio` remains an option
for debugging tools that only know the standard loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run"]

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T], event_loop: str) -> T:
    """``asyncio.run(main)`` on ``event_loop`` (``uvloop`` or ``asyncio``)."""
    if event_loop == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
