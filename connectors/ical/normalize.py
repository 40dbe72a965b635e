"""Values of valid documents that Almanac reads in a normalized form.

Pure functions used by `decode`; each returns what Almanac keeps and says
in words what changed, for the import's warnings.

* RSCALE (RFC 7529): ``RSCALE=GREGORIAN`` with ``SKIP=OMIT`` (the default)
  is exactly RFC 5545's reading and is dropped from the rule; any other
  calendar scale or SKIP cannot be expanded by Almanac.
* ATTACH: Almanac keeps absolute http(s) URLs (the API's rule); inline
  content and other schemes (``ftp://``, ``cid:``) are dropped.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from almanac.v1 import event_service_pb2 as ev_pb

from .rfc import X

__all__ = ["attachment", "gregorian"]

_RSCALE = re.compile(r"(?i)(^|;)RSCALE=([^;]*)")
_SKIP = re.compile(r"(?i)(^|;)SKIP=([^;]*)")
_URL_SCHEMES = frozenset({"http", "https"})


def gregorian(rule: str) -> str:
    """The rule without RSCALE=GREGORIAN (and SKIP=OMIT); ValueError saying
    why for a rule Almanac cannot expand."""
    scale = _RSCALE.search(rule)
    if scale is None:
        return rule
    skip = _SKIP.search(rule)
    skipping = skip.group(2).upper() if skip else "OMIT"
    if scale.group(2).upper() != "GREGORIAN" or skipping != "OMIT":
        shown = f"RSCALE={scale.group(2)}" + (f";SKIP={skipping}" if skipping != "OMIT" else "")
        raise ValueError(
            f"RRULE with {shown} (RFC 7529) cannot be expanded: only the Gregorian"
            " calendar with SKIP=OMIT is"
        )
    return _SKIP.sub("", _RSCALE.sub("", rule)).lstrip(";")


def attachment(attach: Any) -> tuple[ev_pb.Attachment | None, str | None]:
    """(the Attachment kept, or None; why it was dropped, or None)."""
    params = attach.params
    if str(params.get("VALUE", "URI")).upper() == "BINARY" or params.get("ENCODING"):
        return None, "ATTACH with inline content dropped (Almanac keeps URLs)"
    url = str(attach).strip()
    parsed = urlparse(url)
    if parsed.scheme.lower() not in _URL_SCHEMES or not parsed.netloc:
        shown = url if len(url) <= 60 else url[:57] + "..."
        return None, f"ATTACH {shown!r} dropped: Almanac keeps http(s) URLs only"
    kept = ev_pb.Attachment(
        url=url,
        mime_type=str(params.get("FMTTYPE", "")),
        display_name=str(params.get(X.FILENAME) or params.get("FILENAME") or ""),
        id=str(params.get(X.ID, "")),
    )
    return kept, None
