"""Fixtures of the connector tests: each connector's contract-suite target."""

from tests.connectors.caldav.targets import (
    caldav_radicale_target,
    caldav_suite,
    caldav_xandikos_target,
    radicale,
)
from tests.connectors.google.targets import google_suite, google_target
from tests.connectors.graph.targets import fake_graph, graph_clean, graph_target
from tests.connectors.targets import local_target, mirror_suite, reference_target

__all__ = [
    "caldav_radicale_target",
    "caldav_suite",
    "caldav_xandikos_target",
    "fake_graph",
    "google_suite",
    "google_target",
    "graph_clean",
    "graph_target",
    "local_target",
    "mirror_suite",
    "radicale",
    "reference_target",
]
