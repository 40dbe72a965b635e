"""Overrides that a whole series takes from: RDATE periods and
``RECURRENCE-ID;RANGE=THISANDFUTURE``, turned into what Almanac stores.

* An RDATE with a PERIOD value (RFC 5545 section 3.8.5.2) is an instance
  with its own length. Almanac's recurrence lists instants, so the instance
  is kept as an exception of the series with that end (its start is in
  ``rdates`` as usual); the export writes it back as a PERIOD.
* An override with ``RANGE=THISANDFUTURE`` (section 3.8.4.4) changes this
  and every later instance: the series is split there (as "this and
  following" edits are, `connectors.recurrence.split_series`), and the
  override starts a new series with the rest of the rules, moved by the
  same amount. The new series' UID is the old one with ``-R`` and the
  override's instance id, as a UID names one series only.
"""

from __future__ import annotations

from datetime import timedelta

from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb

from connectors.recurrence import from_proto, occurrence_key, split_series

from . import times

__all__ = ["period_exceptions", "split_this_and_future"]

_KEEP_OUT = ("recurrence", "recurrence_type", "original_start", "start", "end")


def _length(event: ev_pb.Event, floating_zone: str) -> timedelta:
    start = times.instant(event.start, floating_zone)
    return times.instant(event.end, floating_zone) - start


def period_exceptions(
    master: ev_pb.Event,
    periods: list[tuple[common_pb2.EventTime, common_pb2.EventTime]],
    floating_zone: str,
) -> list[ev_pb.Event]:
    """An exception per RDATE period whose length differs from the series'."""
    found: list[ev_pb.Event] = []
    length = _length(master, floating_zone)
    for start, end in periods:
        own = times.instant(end, floating_zone) - times.instant(start, floating_zone)
        if own == length or own < timedelta(0):
            continue
        exception = ev_pb.Event()
        exception.CopyFrom(master)
        for name in _KEEP_OUT:
            exception.ClearField(name)  # type: ignore[arg-type]
        exception.recurrence_type = ev_pb.RECURRENCE_TYPE_INSTANCE
        original = times.conform(start, master.start, floating_zone)
        exception.original_start.CopyFrom(original)
        exception.start.CopyFrom(original)
        exception.end.CopyFrom(times.conform(end, master.end, floating_zone))
        found.append(exception)
    return found


def split_this_and_future(
    master: ev_pb.Event, override: ev_pb.Event, floating_zone: str
) -> tuple[ev_pb.Event, bool]:
    """Cut ``master`` (in place) before ``override``'s instance: the new
    series the override starts, and whether anything of ``master`` remains
    (not when the override is its first instance). ValueError if the
    instance is not one of the series' or the series cannot be cut there."""
    original = from_proto(override.original_start, default_zone=floating_zone)
    split = split_series(
        master.start,
        master.end,
        master.recurrence,
        original,
        floating_zone=times.zone(floating_zone),
    )
    moved = times.instant(override.start, floating_zone) - times.instant(
        split.new_start, floating_zone
    )
    series = ev_pb.Event()
    series.CopyFrom(override)
    series.ClearField("original_start")
    series.recurrence_type = ev_pb.RECURRENCE_TYPE_MASTER
    series.recurrence.CopyFrom(split.after)
    for values in (series.recurrence.rdates, series.recurrence.exdates):
        shifted = [times.add_duration(t, moved) for t in values]
        del values[:]
        values.extend(shifted)
    series.ical_uid = f"{master.ical_uid}-R{occurrence_key(original)}"
    if split.before is None:
        return series, False
    master.recurrence.CopyFrom(split.before)
    return series, True
