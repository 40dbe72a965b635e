"""Field checks shared by the servicers; each one adds a BadRequest violation.

Validators collect every problem of a request before failing, so a client
fixes its request in one round trip instead of one field at a time.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Collection, Sequence
from functools import cache
from typing import TypeVar

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from services.runtime.errors import BadRequestBuilder

__all__ = [
    "COLOR_RE",
    "apply_update_mask",
    "check_color",
    "check_id",
    "check_length",
    "check_request_id",
    "check_time_zone",
    "email_ok",
    "is_time_zone",
    "masked_update",
]

M = TypeVar("M", bound=Message)

COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_time_zone(name: str) -> bool:
    return name in _zones()


def check_time_zone(bad: BadRequestBuilder, field: str, value: str) -> None:
    if value and not is_time_zone(value):
        bad.add(field, f"unknown IANA time zone {value[:64]!r}; see ListTimeZones")


def check_length(
    bad: BadRequestBuilder, field: str, value: str, maximum: int, *, required: bool = False
) -> None:
    if required and not value.strip():
        bad.add(field, "is required")
    elif len(value) > maximum:
        bad.add(field, f"must be at most {maximum} characters; got {len(value)}")


def email_ok(value: str) -> bool:
    """Loose on purpose: real-world addresses are odd; this catches typos."""
    local, _, domain = value.partition("@")
    return bool(local) and "." in domain and " " not in value and len(value) <= 320


def check_color(bad: BadRequestBuilder, field: str, value: str) -> None:
    if value and not COLOR_RE.match(value):
        bad.add(field, f"must be a colour like #4E9075; got {value[:16]!r}")


def check_id(bad: BadRequestBuilder, field: str, value: str, pattern: re.Pattern[str]) -> None:
    if value and not pattern.match(value):
        bad.add(field, f"must match {pattern.pattern}; got {value[:64]!r}")


def check_request_id(bad: BadRequestBuilder, field: str, value: str) -> None:
    if value and not UUID_RE.match(value):
        bad.add(field, "must be a UUID (AIP-155)")


def apply_update_mask(
    target: Message,
    source: Message,
    mask: FieldMask,
    *,
    mutable: Collection[str],
    output_only: Collection[str],
    bad: BadRequestBuilder,
    field: str = "update_mask",
) -> list[str]:
    """Copy the masked top-level fields from ``source`` into ``target``.

    AIP-134: no mask means every field set in ``source``; ``*`` replaces every
    mutable field; output-only paths are ignored; unknown or immutable paths are
    violations. Returns the paths whose value changed.
    """
    paths: Sequence[str]
    if not mask.paths:
        paths = [f.name for f, _ in source.ListFields() if f.name in mutable]
    elif list(mask.paths) == ["*"]:
        paths = sorted(mutable)
    else:
        paths = []
        for path in mask.paths:
            top = path.split(".", 1)[0]
            if top in output_only or top in ("name", "etag"):
                continue
            if top not in mutable or "." in path:
                bad.add(
                    field, f"cannot update {path!r}; updatable fields: {', '.join(sorted(mutable))}"
                )
                continue
            paths.append(top)
    changed = []
    for path in dict.fromkeys(paths):
        descriptor = target.DESCRIPTOR.fields_by_name[path]
        before = _field_bytes(target, path)
        target.ClearField(path)
        if descriptor.is_repeated:
            getattr(target, path).extend(getattr(source, path))
        elif descriptor.message_type is not None:
            if source.HasField(path):
                getattr(target, path).CopyFrom(getattr(source, path))
        else:
            setattr(target, path, getattr(source, path))
        if _field_bytes(target, path) != before:
            changed.append(path)
    return changed


def masked_update(
    bad: BadRequestBuilder,
    resource: M,
    mask: FieldMask,
    *,
    mutable: Collection[str],
    output_only: Collection[str],
    keep_if_empty: Collection[str] = (),
) -> Callable[[M], tuple[M, list[str]]]:
    """Check ``mask`` now (into ``bad``) and return the change to apply later.

    The connector calls the returned function on the current resource inside
    its transaction, so the read-modify-write sees the latest state.
    ``keep_if_empty`` fields keep their value when the update clears them
    (a calendar's time zone falls back to the current one, never to "").
    """
    apply_update_mask(
        type(resource)(), resource, mask, mutable=mutable, output_only=output_only, bad=bad
    )

    def apply(current: M) -> tuple[M, list[str]]:
        updated = type(current)()
        updated.CopyFrom(current)
        changed = apply_update_mask(
            updated,
            resource,
            mask,
            mutable=mutable,
            output_only=output_only,
            bad=BadRequestBuilder(),
        )
        for name in keep_if_empty:
            if not getattr(updated, name):
                setattr(updated, name, getattr(current, name))
                changed = [c for c in changed if c != name]
        return updated, changed

    return apply


def _field_bytes(message: Message, path: str) -> bytes:
    probe = type(message)()
    descriptor = message.DESCRIPTOR.fields_by_name[path]
    if descriptor.is_repeated:
        getattr(probe, path).extend(getattr(message, path))
    elif descriptor.message_type is not None:
        if message.HasField(path):
            getattr(probe, path).CopyFrom(getattr(message, path))
    else:
        setattr(probe, path, getattr(message, path))
    return probe.SerializeToString(deterministic=True)
