"""The bounded fuzz run and the isolation matrix (the long run: ``make fuzz``)."""

from __future__ import annotations

import os

from tests.fuzz.cluster import FuzzCluster, served_methods
from tests.fuzz.isolation import CALLERS, check
from tests.fuzz.runner import fuzz

# Enough to cross every RPC a dozen times or so; `make fuzz` runs 10,000+.
CASES = int(os.environ.get("ALMANAC_FUZZ_CASES", "600"))


def test_no_request_gets_an_internal_error_or_kills_a_process(cluster: FuzzCluster) -> None:
    report = fuzz(cluster, CASES)
    assert report.cases >= CASES
    assert not report.failures and not report.dead, report.summary()
    # The run must reach past validation, or it would prove little.
    assert report.counts["OK"] > CASES // 20, report.summary()


def test_isolation_matrix(cluster: FuzzCluster) -> None:
    methods = served_methods()
    size, wrong = check(cluster, methods)
    assert size == len(methods) * len(CALLERS) >= 90
    assert not wrong, "\n".join(f"{c.method} as {c.caller}: {c.code}, {c.problem}" for c in wrong)
