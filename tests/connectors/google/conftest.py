"""The Google connector tests' suite, checked against Google's schema after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .support import GoogleSuite

__all__ = ["suite"]


@pytest.fixture
def suite(google_suite: GoogleSuite) -> Iterator[GoogleSuite]:
    """The session's Google suite (shared with the contract suite); schema-clean after."""
    yield google_suite
    assert google_suite.fake.violations == [], "the connector or the fake left Google's schema"
