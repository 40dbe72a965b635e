"""The shape every gRPC-calling bench child shares: a JSON spec in, JSON out.

The bench process itself makes no gRPC calls (see `bench.proc`); its
children read a spec from stdin, run, and print their result, or name the
failed call on stderr and exit 1.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import grpc

__all__ = ["child_main"]

Spec = dict[str, Any]


def child_main(run: Callable[[Spec], Coroutine[Any, Any, Spec]], what: str = "almanac call") -> int:
    spec = json.load(sys.stdin)
    result: Spec | None = None
    try:
        result = asyncio.run(run(spec))
    except* grpc.aio.AioRpcError as group:
        # TaskGroups wrap a worker's failed call in an ExceptionGroup.
        err = group.exceptions[0]
        assert isinstance(err, grpc.aio.AioRpcError)
        print(f"{what} failed: {err.code().name}: {err.details()}", file=sys.stderr)
    if result is None:
        return 1
    json.dump(result, sys.stdout)
    return 0
