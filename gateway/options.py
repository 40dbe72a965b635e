"""The gateway's settings: one small dataclass the CLI fills from its config."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_SERVICES", "GatewayOptions"]

# The contract's services, in the order the docs page lists them.
DEFAULT_SERVICES = (
    "almanac.v1.AccountService",
    "almanac.v1.CalendarService",
    "almanac.v1.EventService",
    "almanac.v1.ContactService",
    "almanac.v1.ResourceService",
    "almanac.v1.AvailabilityService",
    "almanac.v1.ActivityService",
)


@dataclass(frozen=True)
class GatewayOptions:
    """How the gateway listens and behaves; every default works on a laptop."""

    host: str = "127.0.0.1"
    port: int = 8080  # 0 picks a free port (printed on the READY line)
    # Deadline of a unary call without a Grpc-Timeout header. Streams have none.
    default_timeout: float = 30.0
    # Origins allowed by CORS: () disables CORS, ("*",) allows every origin.
    cors_origins: tuple[str, ...] = ()
    # Responses at least this large are gzipped when the client accepts it;
    # 0 disables gzip.
    gzip_min_bytes: int = 1024
    # Largest request body (an ICS import is at most 16 MiB).
    max_body_bytes: int = 20 * 1024 * 1024
    # How long a stream waits for its first message before sending the 200
    # headers: an early error (bad token, bad cursor) still gets its own status.
    stream_commit_seconds: float = 0.25
    # Serve /openapi.json and /docs.
    docs: bool = True
    # Title and version of the OpenAPI document.
    title: str = "Almanac API"
    version: str = "v1"
    # Extra modules to import so their descriptors are served (tests, plugins).
    proto_modules: tuple[str, ...] = ()
    # uvicorn's log level; access lines are off unless "debug"/"trace".
    log_level: str = "warning"
