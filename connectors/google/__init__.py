"""The Google Calendar connector: a ``RemoteBackend`` over Calendar API v3.

One concern per module: ``oauth`` (refresh-token grant), ``http`` (calls,
rate-limit retries, error mapping), ``calendars`` (calendarList), ``events``
and ``times`` (the Event resource both ways), ``items`` (events grouped by
iCalUID, writes, ``syncToken`` change sync), ``backend`` (the glue).
"""

from .backend import GoogleBackend

__all__ = ["GoogleBackend"]
