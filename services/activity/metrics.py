"""Metrics of the activity service: its subscribers and how far behind they are.

Lag is counted in activities: the newest cursor the process's feed has read
minus the position each open stream has sent up to (heartbeats included),
so activities that a stream's filter drops count as passed. Why that unit:
it is exactly what ends a stream. A subscriber more than the feed's window
behind (``almanac_activity_feed_window``, between ``activity_ring_size`` and
twice that) ends with RESOURCE_EXHAUSTED ``SUBSCRIBER_TOO_SLOW``, so

    max(almanac_activity_subscriber_lag_max / almanac_activity_feed_window) > 0.8

warns before subscribers are dropped, and a lag that stays above 0 while
the log is quiet means a client that stopped reading. Cursors are the log's
ids, which PostgreSQL may skip after a rollback: a lag is an upper bound.

The values are computed at scrape time, on the event loop (see
`services.runtime.exporter`), from the service's set of open streams.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from services.activity.service import ActivityService

__all__ = ["ActivityCollector", "register"]


class ActivityCollector(Collector):
    """Reads the open streams and the feed of one `ActivityService` at each scrape."""

    def __init__(self, service: ActivityService) -> None:
        self._service = service

    def collect(self) -> Iterator[GaugeMetricFamily]:
        feed = self._service.feed
        positions = [stream.position for stream in self._service.streams]
        lags = [max(0, feed.head - position) for position in positions]
        yield GaugeMetricFamily(
            "almanac_activity_subscribers",
            "Open StreamActivity subscribers of this process.",
            value=len(positions),
        )
        yield GaugeMetricFamily(
            "almanac_activity_subscriber_lag_max",
            "Activities the furthest-behind open subscriber has yet to pass (0 without any).",
            value=max(lags, default=0),
        )
        yield GaugeMetricFamily(
            "almanac_activity_subscriber_backlog",
            "Activities the open subscribers have yet to pass, added up.",
            value=sum(lags),
        )
        yield GaugeMetricFamily(
            "almanac_activity_feed_window",
            "How far behind the newest activity a subscriber may fall before its stream "
            "ends with SUBSCRIBER_TOO_SLOW (activities held in this process's ring).",
            value=feed.head - feed.floor,
        )
        yield GaugeMetricFamily(
            "almanac_activity_feed_head",
            "The newest activity cursor this process's feed has read.",
            value=feed.head,
        )


def register(service: ActivityService) -> ActivityCollector:
    """Report ``service``'s subscribers in this process's metrics."""
    collector = ActivityCollector(service)
    REGISTRY.register(collector)
    return collector
