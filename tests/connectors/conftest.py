"""Fixtures of the connector tests: each connector's contract-suite target."""

from tests.connectors.targets import local_target, mirror_suite, reference_target

__all__ = ["local_target", "mirror_suite", "reference_target"]
