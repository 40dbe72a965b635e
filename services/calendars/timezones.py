"""The IANA time-zone list with each zone's offset at an instant (tzdata)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import cache

from almanac.v1 import calendar_service_pb2 as cal_pb
from google.protobuf.duration_pb2 import Duration

__all__ = ["time_zones"]


@cache
def _zone_ids() -> tuple[str, ...]:
    # "Factory" and "localtime" are tzdata artefacts, not places.
    return tuple(
        sorted(z for z in zoneinfo.available_timezones() if z not in ("Factory", "localtime"))
    )


# Converting instants this close to datetime's limits overflows; the offsets
# there are the zone's first or last rule anyway.
_EARLIEST = dt.datetime(2, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(9998, 12, 31, tzinfo=dt.UTC)


def time_zones(query: str, at: dt.datetime) -> list[cal_pb.TimeZone]:
    at = min(max(at, _EARLIEST), _LATEST)
    needle = query.lower()
    out = []
    for zone_id in _zone_ids():
        if needle and needle not in zone_id.lower():
            continue
        local = at.astimezone(zoneinfo.ZoneInfo(zone_id))
        offset = local.utcoffset() or dt.timedelta(0)
        out.append(
            cal_pb.TimeZone(
                id=zone_id,
                utc_offset=Duration(seconds=int(offset.total_seconds())),
                dst=bool(local.dst()),
                abbreviation=local.tzname() or "",
            )
        )
    return out
