"""Booking policies of resources: the rules both booking and room finding apply."""

from __future__ import annotations

from datetime import datetime

from almanac.v1 import resource_service_pb2 as rs_pb

__all__ = ["booker_allowed", "policy_problem"]


def booker_allowed(policy: rs_pb.BookingPolicy, organizer: str) -> bool:
    """Whether ``organizer`` (an email) may book under ``policy``."""
    if not policy.allowed_bookers:
        return True
    who = organizer.lower()
    allowed = {b.lower() for b in policy.allowed_bookers}
    return bool(who) and (who in allowed or "@" + who.partition("@")[2] in allowed)


def policy_problem(
    policy: rs_pb.BookingPolicy, organizer: str, start: datetime, end: datetime, now: datetime
) -> str:
    """Why the policy declines a booking from ``start`` to ``end``; "" when it allows it."""
    limit = policy.max_duration.ToTimedelta()
    if limit and end - start > limit:
        return f"declined: longer than the longest booking allowed ({limit})"
    ahead = policy.max_advance.ToTimedelta()
    if ahead and start > now + ahead:
        return f"declined: starts more than {ahead} ahead"
    if not booker_allowed(policy, organizer):
        return f"declined: {organizer or 'an unknown organizer'} may not book this resource"
    return ""
