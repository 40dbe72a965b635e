"""A remote backend whose upstream is never reached (a test double).

For tests that only store remote accounts (their secrets, their listing)
with no sync worker running: CreateAccount's check of the settings passes
without a server; anything that would talk upstream is UNAVAILABLE.
"""

from __future__ import annotations

from connectors.errors import Unavailable
from tests.connectors.reference.backend import ReferenceBackend

__all__ = ["OfflineBackend"]


class OfflineBackend(ReferenceBackend):
    async def validate(self) -> None:
        """Nothing to ask: the test stores the account only."""

    async def list_calendars(self) -> list:  # type: ignore[type-arg]
        raise Unavailable("this test's upstream is offline", reason="UPSTREAM_OFFLINE")
