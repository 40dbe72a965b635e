"""The reference remote backend: a test double that behaves like a server.

``server.ReferenceServer`` is an in-memory calendar server over HTTP/JSON
(its own etags, change tokens that expire, injectable failures and latency)
that tests run in their own process; ``backend.ReferenceBackend`` is the
``connectors.remote.RemoteBackend`` that Almanac's processes load for it
(``ALMANAC_CONNECTOR_BACKENDS=caldav=tests.connectors.reference.backend:ReferenceBackend``).
Not a product feature.
"""
