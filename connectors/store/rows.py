"""Helpers shared by the local connector's tables: clocks, etags, ids."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

__all__ = [
    "compute_etag",
    "datetime_from_us",
    "new_id",
    "now_us",
    "seal",
    "timestamp_from_us",
    "us_from_datetime",
    "us_from_timestamp",
]

M = TypeVar("M", bound=Message)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_us() -> int:
    """Microseconds since the Unix epoch, UTC: how every instant is stored."""
    return time.time_ns() // 1000


def timestamp_from_us(us: int) -> Timestamp:
    return Timestamp(seconds=us // 1_000_000, nanos=(us % 1_000_000) * 1000)


def us_from_timestamp(ts: Timestamp) -> int:
    """The stored form (microseconds since the epoch) of a Timestamp."""
    return int(ts.seconds) * 1_000_000 + int(ts.nanos) // 1000


def us_from_datetime(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact; no float)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def datetime_from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def new_id() -> str:
    """A random id that satisfies every id pattern (starts with a letter)."""
    return "a" + base64.b32encode(os.urandom(10)).decode().lower()


def compute_etag(message: Message) -> str:
    """Strong RFC 7232 entity tag over the message without its own etag."""
    copy = type(message)()
    copy.CopyFrom(message)
    copy.ClearField("etag")
    digest = hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()[:20]
    return f'"{digest}"'


def seal(message: M) -> tuple[M, bytes]:
    """Set the etag and return the message with its stored bytes."""
    message.etag = compute_etag(message)  # type: ignore[attr-defined]
    return message, message.SerializeToString(deterministic=True)
