"""The recurrence set of one series, walked in order with instance indices.

A `Series` is built once per master (start, end, `Recurrence`) and walked
by `connectors.recurrence.expand`. Members are ``(key, wall, local)``:

* ``wall`` is the naive wall-clock start (all-day: midnight of the date), the
  domain the RRULEs are expanded in;
* ``key`` is the member's identity and sort key: the aware UTC instant for a
  timed series, ``wall`` itself for all-day and floating series (whose
  identity must not depend on any reader's zone);
* ``local`` is the start as the API shows it: aware in the series' zone for
  a timed series, else ``wall``.

The set is DTSTART, the RRULE instances and the RDATEs, merged and
de-duplicated by key; EXDATEs are kept aside (`exdates`) so that indices
count them (see the `expand` module docstring). Walking can start part-way:
for at most one RRULE whose source can count (`PeriodicRule`), `walk` jumps
to the wanted point and computes the index of the first member from counts,
so a series started ten years ago costs the same as a new one.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from almanac.v1 import common_pb2, event_service_pb2

from connectors.recurrence.rules import RuleSpec, parse_rrule
from connectors.recurrence.sources import RawRule, raw_source
from connectors.recurrence.times import TimeKind, TimeValue, from_proto, kind_of
from connectors.recurrence.zones import iter_gaps, overlap_end

__all__ = ["Member", "Series"]

Member = tuple[datetime, datetime, datetime]
"""``(key, wall, local)``: see the module docstring."""

_MAX_WALL = datetime.max.replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class _Rule:
    spec: RuleSpec
    raw: RawRule
    # Exclusive wall-clock bound from UNTIL: members are exactly the
    # candidates below it (None: no UNTIL).
    bound: datetime | None
    # UNTIL as an instant (timed series): a time shifted out of a gap may pass it.
    last: datetime | None = None


@dataclass(frozen=True, slots=True)
class Series:
    kind: TimeKind
    zone: tzinfo | None  # the series' zone (timed series only)
    floating_zone: tzinfo
    start: TimeValue  # DTSTART, whole seconds
    dtstart_wall: datetime
    dtstart_key: datetime
    duration: timedelta  # whole days for all-day series
    end_zone: tzinfo | None  # zone the end of a timed instance is shown in
    rules: tuple[_Rule, ...]
    extras: tuple[Member, ...]  # DTSTART and RDATEs, sorted, unique keys
    exdates: frozenset[datetime]

    @classmethod
    def build(
        cls,
        start: common_pb2.EventTime,
        end: common_pb2.EventTime | None,
        recurrence: event_service_pb2.Recurrence | None,
        *,
        floating_zone: tzinfo,
        periodic: bool = True,
    ) -> Series:
        """`ValueError` for invalid input (validate it first)."""
        default_zone = getattr(floating_zone, "key", "UTC")
        first = _whole(from_proto(start, default_zone=default_zone))
        kind = kind_of(first)
        zone = first.tzinfo if isinstance(first, datetime) else None
        duration, end_zone = _duration(first, end, default_zone)
        wall = _wall(first)
        key = first.astimezone(UTC) if isinstance(first, datetime) and zone else wall
        rec = recurrence or event_service_pb2.Recurrence()
        if rec.HasField("simple"):
            raise ValueError("translate recurrence.simple into rrules before expanding")
        rules = tuple(
            _Rule(
                spec,
                raw_source(spec, wall, periodic=periodic),
                _bound(spec, kind, zone),
                _last(spec, zone),
            )
            for spec in (parse_rrule(text) for text in rec.rrules)
        )
        local = first if isinstance(first, datetime) and zone else wall
        # Every RRULE ended before DTSTART (UNTIL < DTSTART, how Confluence
        # marks a deleted series): no instance at all, not DTSTART alone.
        ended = bool(rules) and all(r.bound is not None and r.bound <= wall for r in rules)
        extras = {} if ended else {key: (key, wall, local)}
        for value in rec.rdates:
            m = _member(kind, zone, _whole(from_proto(value, default_zone=default_zone)))
            extras.setdefault(m[0], m)
        exdates = frozenset(
            _member(kind, zone, _whole(from_proto(v, default_zone=default_zone)))[0]
            for v in rec.exdates
        )
        return cls(
            kind=kind,
            zone=zone,
            floating_zone=floating_zone,
            start=first,
            dtstart_wall=wall,
            dtstart_key=key,
            duration=duration,
            end_zone=end_zone,
            rules=rules,
            extras=tuple(extras[k] for k in sorted(extras)),
            exdates=exdates,
        )

    def member(self, value: TimeValue) -> Member:
        """The member for a value of this series' kind (`ValueError` if not)."""
        return _member(self.kind, self.zone, _whole(value))

    def key_of_wall(self, wall: datetime) -> datetime:
        """The key of a wall-clock time (RFC 5545 §3.3.5 reading for timed series)."""
        if self.zone is None:
            return wall
        # wall.replace(tzinfo=zone, fold=0).astimezone(UTC), but cheaper.
        return (wall - (self.zone.utcoffset(wall) or timedelta(0))).replace(tzinfo=UTC)

    def span(self, key: datetime, wall: datetime) -> tuple[datetime, datetime]:
        """``(start_utc, end_utc)`` of a member."""
        if self.zone is not None:
            return key, key + self.duration
        fz = self.floating_zone
        start = wall.replace(tzinfo=fz).astimezone(UTC)
        if self.kind is TimeKind.FLOATING:
            return start, start + self.duration  # exact, like timed instances
        # All-day: from local midnight to local midnight, however long.
        return start, (wall + self.duration).replace(tzinfo=fz).astimezone(UTC)

    def walk(
        self, from_wall: datetime | None = None, to_wall: datetime | None = None
    ) -> Iterator[tuple[int, Member]]:
        """``(index, member)`` of every member, EXDATEs included, in order.

        With ``from_wall`` it may skip members whose wall is before it (never
        one at or after it), and still report true indices. RRULE members
        stop before ``to_wall``: a bound the caller needs anyway. Members
        past year 9999 in UTC end the walk.
        """
        extras: Iterable[Member] = self.extras
        streams: list[Iterator[Member]] = []
        index = 0
        counts = (
            [r.raw.count_before(from_wall) for r in self.rules]
            if from_wall is not None and from_wall > self.dtstart_wall and len(self.rules) <= 1
            else [None]
        )
        if from_wall is not None and None not in counts:
            p_key = self.key_of_wall(from_wall)
            for rule, k in zip(self.rules, counts, strict=True):
                valid = self._valid_before(rule, from_wall, k)
                streams.append(self._stream(rule, k or 0, valid, to_wall))
                index += valid
            index += sum(
                1 for k, w, _ in self.extras if k < p_key and not self._is_rule_member(k, w)
            )
            extras = [m for m in self.extras if m[0] >= p_key]
        else:
            streams = [self._stream(rule, 0, 0, to_wall) for rule in self.rules]
        if len(streams) == 1 and not extras:
            # The common case: one rule's members, already unique and in order.
            yield from enumerate(streams[0], start=index + 1)
            return
        merged = heapq.merge(*streams, iter(extras), key=_first)
        last: datetime | None = None
        for member in merged:
            if member[0] != last:
                last = member[0]
                index += 1
                yield index, member

    def rule_split(self, i: int, key: datetime, wall: datetime) -> tuple[int, Iterator[Member]]:
        """Members of RRULE ``i`` alone: how many have a key before ``key``,
        and an iterator over the others (from the first at/after ``key``)."""
        rule = self.rules[i]
        # From earlier: a fold or a gap shift may name ``key`` by an earlier wall.
        try:
            earlier = wall - timedelta(days=2)
        except OverflowError:
            earlier = self.dtstart_wall
        k = rule.raw.count_before(earlier) if earlier > self.dtstart_wall else None
        n = 0
        stream = self._stream(rule, 0, 0)
        if k is not None:
            n = self._valid_before(rule, earlier)
            stream = self._stream(rule, k, n)
        for member in stream:
            if member[0] >= key:
                return n, itertools.chain((member,), stream)
            n += 1
        return n, iter(())

    def _stream(
        self, rule: _Rule, k: int, valid: int, horizon: datetime | None = None
    ) -> Iterator[Member]:
        # Hot loop of every expansion: locals only.
        zone, count = self.zone, rule.spec.count
        bound = rule.bound
        if horizon is not None and (bound is None or horizon < bound):
            bound = horizon
        dtstart_wall, dtstart_key = self.dtstart_wall, self.dtstart_key
        zero = timedelta(0)
        # Instances in a spring-forward gap, shifted forward by the gap and
        # held until the next existing instance shows whether they collide.
        shifted: list[Member] = []
        for wall in rule.raw.iter_from(k):
            if bound is not None and wall >= bound:
                break
            if zone is None:
                key = local = wall
            elif wall == dtstart_wall:
                key, local = dtstart_key, dtstart_key.astimezone(zone)  # keep DTSTART's fold
            else:
                # fold=0 offset: RFC 5545 §3.3.5 (first occurrence; the
                # offset before a gap, so 02:30 in a 02:00-03:00 gap is 03:30).
                try:
                    key = (wall - (zone.utcoffset(wall) or zero)).replace(tzinfo=UTC)
                    local = key.astimezone(zone)
                except OverflowError:  # beyond datetime's range in UTC
                    break
                if (
                    local.hour != wall.hour
                    or local.minute != wall.minute
                    or local.second != wall.second
                    or local.day != wall.day
                ):
                    if rule.last is None or key <= rule.last:
                        shifted.append((key, wall, local))
                    continue
            for member in shifted:
                # A shifted instance at or after this one is a duplicate
                # (RFC 5545 §3.8.5.3: "Duplicate instances are ignored").
                if member[0] >= key or (count is not None and valid >= count):
                    break
                valid += 1
                yield member
            shifted.clear()
            if count is not None and valid >= count:
                return
            valid += 1
            yield key, wall, local
        for member in shifted:
            if count is not None and valid >= count:
                return
            valid += 1
            yield member

    def _valid_before(self, rule: _Rule, wall: datetime, raw_count: int | None = None) -> int:
        # Members of `rule` with a wall clock before `wall`, from counts
        # (`raw_count`: the raw count before `wall`, if already known).
        limit = wall if rule.bound is None else min(wall, rule.bound)
        if raw_count is None or limit != wall:
            raw_count = rule.raw.count_before(limit)
        n = (raw_count or 0) - self._gap_duplicates(rule, limit)
        return n if rule.spec.count is None else min(n, rule.spec.count)

    def _gap_duplicates(self, rule: _Rule, limit: datetime) -> int:
        """Candidates before ``limit`` dropped as duplicates (see `_stream`).

        A candidate at wall ``g`` in a gap of length ``L`` becomes the
        instant of ``g + L``; it is dropped when the rule's first candidate
        ``r`` after the gap is not later, that is when ``g >= r - L``.
        """
        if self.zone is None or self.zone is UTC:
            return 0
        raw, dropped = rule.raw, 0
        for gap_start, gap_end in iter_gaps(self.zone, self.dtstart_wall, limit):
            if rule.spec.count is not None:
                # Candidates dropped from here on are all at or after
                # gap_start, so at least (before - dropped) members remain:
                # once that reaches COUNT, `_valid_before` answers COUNT
                # whatever the rest drop. Stopping keeps a window far beyond
                # a counted series from walking every year up to 9999.
                before = raw.count_before(gap_start)
                if before is not None and before - dropped >= rule.spec.count:
                    return dropped
            after = raw.count_before(gap_end)
            if after is None:
                return 0
            following = next(raw.iter_from(after), None)
            if following is None or (rule.bound is not None and following >= rule.bound):
                continue
            low = max(gap_start, following - (gap_end - gap_start))
            high = min(gap_end, limit)
            if low < high:
                dropped += (raw.count_before(high) or 0) - (raw.count_before(low) or 0)
        return dropped

    def _is_rule_member(self, key: datetime, wall: datetime) -> bool:
        for rule in self.rules:
            if not rule.raw.contains(wall) or (rule.bound is not None and wall >= rule.bound):
                continue
            if self.zone is not None and wall != self.dtstart_wall:
                if self.key_of_wall(wall) != key:
                    continue  # another instant with that wall clock (a fold)
            if rule.spec.count is None or self._valid_before(rule, wall) < rule.spec.count:
                return True
        return False


def _first(member: Member) -> datetime:
    return member[0]


def _member(kind: TimeKind, zone: tzinfo | None, value: TimeValue) -> Member:
    if kind_of(value) is not kind:
        raise ValueError(f"expected a {kind.value} value like the start, got {value!r}")
    if isinstance(value, datetime) and zone is not None:
        local = value.astimezone(zone)
        return value.astimezone(UTC), local.replace(tzinfo=None, fold=0), local
    wall = _wall(value)
    return wall, wall, wall


def _whole(value: TimeValue) -> TimeValue:
    # RFC 5545 times have whole seconds, and dateutil drops microseconds.
    if isinstance(value, datetime) and value.microsecond:
        return value.replace(microsecond=0)
    return value


def _wall(value: TimeValue) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None, fold=0)
    return datetime.combine(value, time())


def _duration(
    first: TimeValue, end: common_pb2.EventTime | None, default_zone: str
) -> tuple[timedelta, tzinfo | None]:
    zone = first.tzinfo if isinstance(first, datetime) else None
    if end is None or end.WhichOneof("value") is None:
        # The API default: one hour, or one day for all-day events.
        return (timedelta(hours=1) if isinstance(first, datetime) else timedelta(days=1)), zone
    last = _whole(from_proto(end, default_zone=default_zone))
    if kind_of(last) is not kind_of(first):
        raise ValueError("start and end must be of the same kind")
    if isinstance(first, datetime) and isinstance(last, datetime):
        # Aware: an exact duration (subtracting in UTC, not wall-clock);
        # naive (floating): wall-clock.
        if zone is not None:
            return last.astimezone(UTC) - first.astimezone(UTC), last.tzinfo
        return last - first, None
    if isinstance(first, datetime) or isinstance(last, datetime):
        raise ValueError("start and end must be of the same kind")
    return timedelta(days=(last - first).days), None


def _bound(spec: RuleSpec, kind: TimeKind, zone: tzinfo | None) -> datetime | None:
    """The exclusive wall-clock bound that UNTIL (inclusive) amounts to."""
    until = spec.until
    if until is None:
        return None
    if not isinstance(until, datetime) or kind is TimeKind.ALL_DAY:
        # A DATE, or any UNTIL of an all-day series: through the end of
        # that date (a UTC UNTIL counts by its UTC date).
        return _next_midnight(_until_date(until))
    if until.tzinfo is None:
        return until + timedelta(microseconds=1)  # local: compared as wall clock
    if zone is None:
        # Floating series with a UTC UNTIL: validation rejects it; read
        # leniently as the same wall-clock reading.
        return until.astimezone(UTC).replace(tzinfo=None) + timedelta(microseconds=1)
    # UTC UNTIL of a zoned series: the walls whose first-occurrence instant
    # is <= UNTIL. Usually that is UNTIL's own wall clock, but when UNTIL is
    # in the second pass of a fall-back overlap every overlap wall qualifies.
    end = overlap_end(zone, until)
    if end is not None:
        return end
    return until.astimezone(zone).replace(tzinfo=None) + timedelta(microseconds=1)


def _last(spec: RuleSpec, zone: tzinfo | None) -> datetime | None:
    until = spec.until
    if zone is None or not isinstance(until, datetime):
        return None
    if until.tzinfo is None:
        until = until.replace(tzinfo=zone)
    return until.astimezone(UTC)


def _until_date(value: date) -> date:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo is not None else value).date()
    return value


def _next_midnight(day: date) -> datetime:
    if day >= date.max:
        return _MAX_WALL
    return datetime.combine(day + timedelta(days=1), time())
