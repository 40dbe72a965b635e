"""Text forms of values that protobuf's JSON mapping does not accept by itself.

* Durations as ISO 8601 (``PT1H30M``, ``P1D``), as Kloudless accepted them,
  besides protobuf's own ``"5400s"``: both become the canonical form.
* The ``Grpc-Timeout`` header (``<digits><unit>``, gRPC's wire format).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["canonical_duration", "parse_grpc_timeout"]

_ISO = re.compile(
    r"(?P<sign>-)?P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:[.,]\d{1,9})?)S)?)?"
)
_PROTO = re.compile(r"-?\d+(\.\d{1,9})?s")
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_TIMEOUT = re.compile(r"(\d{1,8})([HMSmun])")
_TIMEOUT_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}


def canonical_duration(text: str) -> str | None:
    """``"3600s"`` for ``"3600s"`` or ``"PT1H"``; None if it is neither form.

    Years and months are refused: their length depends on a start date.
    """
    if _PROTO.fullmatch(text):
        return text
    found = _ISO.fullmatch(text)
    if found is None or text in ("P", "-P") or text.endswith("T"):
        return None
    total = Decimal(0)
    for unit, seconds in _UNIT_SECONDS.items():
        value = found.group(unit)
        if value:
            try:
                total += Decimal(value.replace(",", ".")) * seconds
            except InvalidOperation:
                return None
    if found.group("sign"):
        total = -total
    # Decimal keeps the nanoseconds exact; normalize() drops trailing zeros.
    rendered = format(total.normalize(), "f")
    return f"{rendered}s"


def parse_grpc_timeout(text: str) -> float | None:
    """Seconds of a ``Grpc-Timeout`` header value, or None if malformed."""
    found = _TIMEOUT.fullmatch(text.strip())
    if found is None:
        return None
    return int(found.group(1)) * _TIMEOUT_UNITS[found.group(2)]
