"""The fuzz run: property-based requests for every served RPC, counted by status.

The property: no answer is INTERNAL, UNKNOWN or DATA_LOSS, and no process
dies. `run` spreads ``cases`` over every RPC of every served service (read
from the descriptors, so a new RPC is fuzzed without touching this file) and
records each status code; a bad answer is kept with the request that caused
it, printed as text so it can be replayed.

``python -m tests.fuzz.runner [CASES]`` (``make fuzz``) checks the isolation
matrix, then fuzzes, and prints the matrix size and the counts.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.protobuf import text_format
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.fuzz.cluster import BAD_CODES, FuzzCluster, served_methods
from tests.fuzz.isolation import check, fill, valid_request
from tests.fuzz.strategies import Pools, payloads

__all__ = ["BAD_CODES", "FuzzReport", "fuzz", "main", "page_tokens"]


@dataclass
class FuzzReport:
    counts: Counter[str] = field(default_factory=Counter)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)  # (method, code) -> request
    dead: list[str] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        lines = [f"{self.cases} cases"]
        lines += [
            f"  {code:<20} {n}" for code, n in sorted(self.counts.items(), key=lambda i: -i[1])
        ]
        for (method, code), request in sorted(self.failures.items()):
            lines.append(f"FAIL {method} -> {code}: {request}")
        if self.dead:
            lines.append(f"DEAD processes: {', '.join(self.dead)}")
        return "\n".join(lines)


def page_tokens(cluster: FuzzCluster, methods: list[MethodDescriptor]) -> list[str]:
    """A next_page_token of every List RPC that has a second page for account A."""
    tokens: list[str] = []
    for method in methods:
        request = valid_request(method, cluster.a)
        if "page_size" not in request.DESCRIPTOR.fields_by_name or method.server_streaming:
            continue
        request.page_size = 1  # type: ignore[attr-defined]
        outcome = cluster.call(method, request.SerializeToString(), cluster.admin)
        if outcome.code is grpc.StatusCode.OK:
            reply = GetMessageClass(method.output_type).FromString(outcome.reply)
            token = getattr(reply, "next_page_token", "")
            if token:
                tokens.append(token)
    return tokens


def _describe(kind: str, payload: bytes, message: Message) -> str:
    if kind == "request":
        return text_format.MessageToString(message, as_one_line=True)[:2000]
    return f"{kind} bytes {payload[:200]!r}"


def _fuzz_method(
    cluster: FuzzCluster, method: MethodDescriptor, pools: Pools, cases: int, report: FuzzReport
) -> None:
    tokens = {"full": cluster.a.full_token, "admin": cluster.admin, "read": cluster.a.read_token}
    full_name = f"{method.containing_service.name}.{method.name}"

    @settings(
        max_examples=cases,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=payloads(method.input_type, pools, lambda m: fill(m, cluster.a)),
        who=st.sampled_from(["full", "full", "full", "admin", "read"]),
    )
    def run(case: tuple[str, bytes, Message], who: str) -> None:
        kind, payload, message = case
        outcome = cluster.call(method, payload, tokens[who])
        report.counts[outcome.code.name] += 1
        if outcome.code in BAD_CODES:
            report.failures.setdefault(
                (full_name, outcome.code.name), _describe(kind, payload, message)
            )

    run()


def fuzz(cluster: FuzzCluster, cases: int) -> FuzzReport:
    """At least ``cases`` calls spread over every served RPC.

    Account A is seeded afresh before each RPC's batch: the fuzzer deletes
    and revokes what it aims at, and the next RPC must still find real data.
    """
    methods = served_methods()
    tokens = page_tokens(cluster, methods) or ["x"]
    report = FuzzReport()
    per_method = max(1, -(-cases // len(methods)))
    while report.cases < cases:
        before = report.cases
        for method in methods:
            cluster.a = cluster.seed()
            pools = Pools(sorted({*cluster.a.names.values(), *cluster.b.names.values()}), tokens)
            _fuzz_method(cluster, method, pools, per_method, report)
            dead = cluster.dead()
            if dead:
                report.dead = dead
                return report
        if report.cases == before:
            break
    return report


def main(argv: list[str]) -> int:
    """``make fuzz``: the isolation matrix, then ``CASES`` (default 10,000) fuzz cases."""
    cases = int(argv[0]) if argv else 10_000
    with tempfile.TemporaryDirectory(prefix="almanac-fuzz-") as root:
        cluster = FuzzCluster.start(Path(root))
        started = time.monotonic()
        try:
            size, wrong = check(cluster, served_methods())
            report = fuzz(cluster, cases)
        finally:
            cluster.stop()
    print(f"isolation matrix: {size} cells (RPCs x other account, read-only, no token), "
          f"{len(wrong)} wrong")  # fmt: skip
    for cell in wrong:
        print(f"WRONG {cell.method} as {cell.caller}: {cell.code}, {cell.problem}")
    print(f"fuzzed {len(served_methods())} RPCs in {time.monotonic() - started:.0f} s")
    print(report.summary())
    return 1 if report.failures or report.dead or wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
