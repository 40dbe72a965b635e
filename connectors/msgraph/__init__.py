"""The Microsoft Graph connector (Outlook / Microsoft 365 calendars).

One concern per module: :mod:`.client` (OAuth refresh, throttling, errors),
:mod:`.zones` (Windows <-> IANA), :mod:`.times`, :mod:`.recurrence`
(patternedRecurrence <-> RRULE), :mod:`.events` and :mod:`.calendars` (the
field mappings), :mod:`.items` (events grouped by UID), :mod:`.delta` (change
sync) and :mod:`.backend`, the ``RemoteBackend`` registered as
``microsoft_graph``.
"""

from .backend import GraphBackend

__all__ = ["GraphBackend"]
