"""Recurrence for Almanac: the time model, RRULE expansion, instance ids,
simple recurrences, series splits and validation. Pure functions: no I/O,
no store access.

What the event store calls:

* `validate_start_end`, `validate_recurrence` on writes (violations, not
  exceptions), and `simple_to_rrule` to store a `SimpleRecurrence` as RRULE;
* `expand` / `iter_occurrences` to list instances in a time range;
* `occurrence_key`, `split_instance_id`, `find_occurrence`, `is_occurrence`
  and `occurrence_at` to resolve instance ids and ``instance_index``;
* `split_series` for "this and following" and `truncate_before` for
  deleting an instance and all that follow.

The decisions (DST gaps, indices, limits) are in the `expand` module's
docstring; RRULE policy in `validate`'s.
"""

from connectors.recurrence.expand import (
    DEFAULT_LIMIT,
    Expansion,
    Occurrence,
    expand,
    find_occurrence,
    is_occurrence,
    iter_occurrences,
    occurrence_at,
)
from connectors.recurrence.keys import occurrence_key, parse_instance_suffix, split_instance_id
from connectors.recurrence.rules import RRuleError, RuleSpec, format_rrule, parse_rrule
from connectors.recurrence.simple import simple_to_rrule, validate_simple
from connectors.recurrence.split import Split, split_series, truncate_before
from connectors.recurrence.times import (
    TimeKind,
    TimeValue,
    Violation,
    from_proto,
    get_zone,
    kind_of,
    localize,
    to_proto,
    to_utc,
    validate_event_time,
    validate_start_end,
)
from connectors.recurrence.validate import validate_recurrence, validate_rrule

__all__ = [
    "DEFAULT_LIMIT",
    "Expansion",
    "Occurrence",
    "RRuleError",
    "RuleSpec",
    "Split",
    "TimeKind",
    "TimeValue",
    "Violation",
    "expand",
    "find_occurrence",
    "format_rrule",
    "from_proto",
    "get_zone",
    "is_occurrence",
    "iter_occurrences",
    "kind_of",
    "localize",
    "occurrence_at",
    "occurrence_key",
    "parse_instance_suffix",
    "parse_rrule",
    "simple_to_rrule",
    "split_instance_id",
    "split_series",
    "to_proto",
    "to_utc",
    "truncate_before",
    "validate_event_time",
    "validate_recurrence",
    "validate_rrule",
    "validate_simple",
    "validate_start_end",
]
