"""Validation of resources and their booking policies (resource_service.proto)."""

from __future__ import annotations

from almanac.v1 import resource_service_pb2 as rs_pb
from google.protobuf import duration_pb2

from connectors.errors import InvalidArgument
from services.contacts.checks import email_ok
from services.runtime.errors import BadRequestBuilder
from services.runtime.names import parse_calendar
from services.runtime.validation import check_length

__all__ = ["check_features", "check_resource"]

MAX_FEATURES = 50
MAX_BOOKERS = 100
MAX_CAPACITY = 100_000
_TEN_YEARS_S = 10 * 366 * 24 * 3600


def check_features(bad: BadRequestBuilder, features: list[str], path: str) -> None:
    if len(features) > MAX_FEATURES:
        bad.add(path, f"at most {MAX_FEATURES}")
    seen: set[str] = set()
    for i, feature in enumerate(features):
        check_length(bad, f"{path}[{i}]", feature, 64, required=True)
        if feature.strip().casefold() in seen:
            bad.add(f"{path}[{i}]", f"duplicate feature {feature[:64]!r}")
        seen.add(feature.strip().casefold())


REQUIRED = frozenset({"display_name", "email"})


def check_resource(
    bad: BadRequestBuilder, r: rs_pb.Resource, prefix: str, account: str,
    required: frozenset[str] = REQUIRED,
) -> None:  # fmt: skip
    """``required``: the fields that must not be empty (on update: those the mask names)."""
    check_length(
        bad, f"{prefix}.display_name", r.display_name, 256, required="display_name" in required
    )
    check_length(bad, f"{prefix}.description", r.description, 8192)
    if "email" in required and not r.email:
        bad.add(f"{prefix}.email", "is required")
    elif r.email and not email_ok(r.email):
        bad.add(f"{prefix}.email", f"is not an email address: {r.email[:64]!r}")
    if r.category not in rs_pb.Resource.Category.values():
        bad.add(f"{prefix}.category", f"unknown value {r.category}")
    if not 0 <= r.capacity <= MAX_CAPACITY:
        bad.add(f"{prefix}.capacity", f"must be from 0 to {MAX_CAPACITY}")
    check_length(bad, f"{prefix}.location", r.location, 1024)
    check_length(bad, f"{prefix}.building", r.building, 256)
    check_length(bad, f"{prefix}.floor", r.floor, 64)
    check_features(bad, list(r.features), f"{prefix}.features")
    if r.calendar:
        try:
            calendar = parse_calendar(r.calendar, f"{prefix}.calendar")
        except InvalidArgument:
            bad.add(f"{prefix}.calendar", "must look like accounts/{account}/calendars/{calendar}")
        else:
            if calendar.account not in (account, "me"):
                bad.add(f"{prefix}.calendar", "must be a calendar of the resource's own account")
    if r.HasField("booking_policy"):
        _check_policy(bad, r.booking_policy, f"{prefix}.booking_policy")


def _check_policy(bad: BadRequestBuilder, policy: rs_pb.BookingPolicy, path: str) -> None:
    for field in ("max_duration", "max_advance"):
        if policy.HasField(field):
            _check_duration(bad, getattr(policy, field), f"{path}.{field}")
    if len(policy.allowed_bookers) > MAX_BOOKERS:
        bad.add(f"{path}.allowed_bookers", f"at most {MAX_BOOKERS}")
    for i, who in enumerate(policy.allowed_bookers):
        domain_ok = who.startswith("@") and "." in who[1:] and email_ok("x" + who)
        if not (domain_ok or email_ok(who)):
            bad.add(
                f"{path}.allowed_bookers[{i}]", "must be an email or a domain like @example.com"
            )


def _check_duration(bad: BadRequestBuilder, d: duration_pb2.Duration, path: str) -> None:
    if d.nanos or d.seconds < 0 or d.seconds % 60 or d.seconds > _TEN_YEARS_S:
        bad.add(path, "must be whole minutes from 0 to 10 years")
