"""A real CalDAV server for the account tests: CreateAccount checks CalDAV settings."""

from tests.connectors.caldav.targets import radicale

__all__ = ["radicale"]
