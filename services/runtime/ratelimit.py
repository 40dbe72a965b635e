"""A per-token request rate limit: a token bucket for each bearer token.

Off by default (`rate_limit_per_second` = 0): a laptop has one user. When
on, each token may make ``rate`` requests a second on average and ``burst``
at once; a request over the limit is RESOURCE_EXHAUSTED (reason
``RATE_LIMITED``) with a ``RetryInfo`` saying when the next one will pass.
The buckets live in each process, so N replicas of a service allow N times
the rate in total: enough to protect a process, cheap (no store round trip).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from connectors.errors import RateLimited

__all__ = ["RateLimiter"]

# Buckets of tokens not seen for a while are dropped beyond this many.
_MAX_BUCKETS = 100_000


class RateLimiter:
    __slots__ = ("_buckets", "_burst", "_clock", "_rate")

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs rate > 0 and burst >= 1")
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        # token id -> (tokens left, when counted); most recently used last
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> None:
        """Spend one request of ``key``'s bucket, or raise RateLimited."""
        now = self._clock()
        left, then = self._buckets.pop(key, (self._burst, now))
        left = min(self._burst, left + (now - then) * self._rate)
        if left < 1:
            self._buckets[key] = (left, now)
            wait = (1 - left) / self._rate
            raise RateLimited(
                f"too many requests with this token; retry in {wait:.2f} s",
                retry_after=wait,
                reason="RATE_LIMITED",
            )
        self._buckets[key] = (left - 1, now)
        if len(self._buckets) > _MAX_BUCKETS:
            self._buckets.popitem(last=False)
