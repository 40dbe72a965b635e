"""Settings of every Almanac service, driven by one table.

`SCHEMA` (in the manner of Radicale's config schema) is the single source of
truth: each `Option` has its default, help text, parser and environment
variable, and the loader, the validation, the CLI flags (`add_arguments`)
and the README table (`render_markdown`) are all derived from it.

Sources, highest priority first:

1. explicit overrides (a dict, e.g. from CLI flags; ``None`` values = not given),
2. environment variables ``ALMANAC_<NAME>`` (``ALMANAC_CALENDAR_PORT``),
3. the TOML file named by ``ALMANAC_CONFIG`` (flat ``name = value`` keys),
4. the defaults, which all work on a laptop.

Any bad value raises ValueError naming the option and where it came from.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CONFIG_ENV",
    "ENV_PREFIX",
    "SCHEMA",
    "SERVICE_PORT_OPTIONS",
    "Option",
    "Settings",
    "add_arguments",
    "load_settings",
    "overrides_from_args",
    "render_markdown",
]

ENV_PREFIX = "ALMANAC_"
CONFIG_ENV = "ALMANAC_CONFIG"

Parser = Callable[[object], Any]


@dataclass(frozen=True, slots=True)
class Option:
    """One setting: its default, documentation and parser."""

    name: str
    default: Any
    help: str
    parse: Parser
    type_name: str
    secret: bool = False

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


# --- parsers: accept a native value (TOML, overrides) or a string (env) -----

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_SIZE_RE = re.compile(r"\s*(\d+)\s*(B|KB|KIB|MB|MIB|GB|GIB)?\s*", re.IGNORECASE)
_SIZE_UNITS = {
    "B": 1,
    "KB": 1000,
    "KIB": 1 << 10,
    "MB": 1000**2,
    "MIB": 1 << 20,
    "GB": 1000**3,
    "GIB": 1 << 30,
}
_STORE_SCHEMES = ("sqlite://", "postgresql://", "postgres://")


def _text(min_len: int = 1) -> Parser:
    def parse(raw: object) -> str:
        if not isinstance(raw, str):
            raise ValueError(f"expected a string, got {raw!r}")
        value: str = raw.strip()
        if len(value) < min_len:
            raise ValueError(
                "must not be empty" if min_len == 1 else f"must be at least {min_len} characters"
            )
        return value

    return parse


def _optional(inner: Parser) -> Parser:
    # An empty string (ALMANAC_X= in the environment) explicitly unsets.
    def parse(raw: object) -> Any:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        return inner(raw)

    return parse


def _int(lo: int, hi: int | None = None) -> Parser:
    def parse(raw: object) -> int:
        if isinstance(raw, bool):
            raise ValueError(f"expected an integer, got {raw!r}")
        if isinstance(raw, int):
            value = raw
        elif isinstance(raw, str) and re.fullmatch(r"\s*[+-]?\d[\d_]*\s*", raw):
            value = int(raw)
        else:
            raise ValueError(f"expected an integer, got {raw!r}")
        if value < lo or (hi is not None and value > hi):
            bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            raise ValueError(f"must be {bound}, got {value}")
        return value

    return parse


def _float(lo: float, *, exclusive: bool = False) -> Parser:
    def parse(raw: object) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise ValueError(f"expected a number, got {raw!r}")
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"expected a number, got {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"expected a finite number, got {raw!r}")
        if value < lo or (exclusive and value == lo):
            raise ValueError(f"must be {'greater than' if exclusive else 'at least'} {lo:g}")
        return value

    return parse


def _bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise ValueError(f"expected true or false, got {raw!r}")


def _choice(*choices: str, upper: bool = False) -> Parser:
    def parse(raw: object) -> str:
        if not isinstance(raw, str):
            raise ValueError(f"expected one of {', '.join(choices)}, got {raw!r}")
        value: str = raw.strip().upper() if upper else raw.strip().lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {raw!r}")
        return value

    return parse


def _size(raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and (m := _SIZE_RE.fullmatch(raw)):
        value = int(m.group(1)) * _SIZE_UNITS[(m.group(2) or "B").upper()]
    else:
        raise ValueError(f"expected a byte count such as 4194304 or '4MiB', got {raw!r}")
    if value < 1024 or value > 2**31 - 1:
        raise ValueError(f"must be between 1 KiB and 2 GiB, got {value}")
    return value


def _store_url(raw: object) -> str:
    value: str = _text()(raw)
    if not value.startswith(_STORE_SCHEMES):
        raise ValueError(f"expected a sqlite:/// or postgresql:// URL, got {value!r}")
    return value


def _http_url(raw: object) -> str:
    value: str = _text()(raw)
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return value


def _backends(raw: object) -> dict[str, str]:
    if isinstance(raw, dict):
        pairs = [(str(k), str(v)) for k, v in raw.items()]
    elif isinstance(raw, str):
        pairs = [tuple(p.split("=", 1)) for p in raw.split(",") if p.strip()]  # type: ignore[misc]
    else:
        raise ValueError(f"expected type=module:Class pairs, got {raw!r}")
    out = {}
    for pair in pairs:
        if len(pair) != 2 or pair[0].strip() not in _CONNECTOR_TYPES or ":" not in pair[1]:
            raise ValueError(f"expected type=module:Class with type one of "
                             f"{', '.join(_CONNECTOR_TYPES)}, got {'='.join(pair)!r}")  # fmt: skip
        out[pair[0].strip()] = pair[1].strip()
    return out


_CONNECTOR_TYPES = ("caldav", "google", "microsoft_graph")
_SERVICES = ("account", "calendar", "event", "contact", "resource", "availability", "activity")


def _addresses(raw: object) -> dict[str, str]:
    """``calendar=h1:50052,h2:50052;event=...`` (the replicas of each service)."""
    if isinstance(raw, dict):
        pairs = [(str(k), str(v)) for k, v in raw.items()]
    elif isinstance(raw, str):
        pairs = [tuple(p.split("=", 1)) for p in raw.split(";") if p.strip()]  # type: ignore[misc]
    else:
        raise ValueError(f"expected service=host:port,host:port pairs, got {raw!r}")
    out = {}
    for pair in pairs:
        if len(pair) != 2 or pair[0].strip() not in _SERVICES or not pair[1].strip():
            raise ValueError(f"expected service=host:port[,host:port...] with service one of "
                             f"{', '.join(_SERVICES)}, got {'='.join(pair)!r}")  # fmt: skip
        out[pair[0].strip()] = pair[1].replace(" ", "")
    return out


# --- the table ----------------------------------------------------------------

_PORT = _int(0, 65535)
_PORT_HELP = "TCP port of the {} service (0 picks a free port)."

_OPTIONS = [
    Option("store_url", "sqlite:///./data/almanac.db",
           "State store: `sqlite:///<path>` (single host) or `postgresql://...` (scale-out).",
           _store_url, "url"),
    Option("host", "127.0.0.1",
           "Address every service binds to; `0.0.0.0` or `::` to accept remote clients.",
           _text(), "host"),
    Option("account_port", 50051, _PORT_HELP.format("account"), _PORT, "port"),
    Option("calendar_port", 50052, _PORT_HELP.format("calendar"), _PORT, "port"),
    Option("event_port", 50053, _PORT_HELP.format("event"), _PORT, "port"),
    Option("contact_port", 50054, _PORT_HELP.format("contact"), _PORT, "port"),
    Option("resource_port", 50055, _PORT_HELP.format("resource"), _PORT, "port"),
    Option("availability_port", 50056, _PORT_HELP.format("availability"), _PORT, "port"),
    Option("activity_port", 50057, _PORT_HELP.format("activity"), _PORT, "port"),
    Option("sync_port", 50058, "TCP port of the sync worker's gRPC health endpoint.",
           _PORT, "port"),
    Option("gateway_port", 8080, "TCP port of the REST gateway (HTTP/JSON, `/docs`).",
           _PORT, "port"),
    Option("gateway", True, "Start the REST gateway with `almanac up`.", _bool, "bool"),
    Option("gateway_cors_origins", "",
           "Origins the gateway allows for browser calls (CORS), comma-separated; `*` for "
           "any; empty: CORS off.", _text(0), "list"),
    Option("gateway_timeout_seconds", 30.0,
           "Deadline of a unary call through the gateway without a `Grpc-Timeout` header.",
           _float(0, exclusive=True), "seconds"),
    Option("service_addresses", {},
           "Where clients (the gateway, `almanac call`) reach services run elsewhere or as "
           "several replicas: `calendar=host:port,host:port;event=...`; calls are balanced "
           "round-robin. A service not named: `host` and its port option.",
           _addresses, "mapping"),
    Option("single_port", 50050,
           "TCP port of `almanac up --single-process`: every gRPC service and the REST "
           "gateway on this one port (0 picks a free port).", _PORT, "port"),
    Option("bootstrap_token", None,
           "If set, a token with the global `admin` scope is created with this value at "
           "start-up (first run only), so the first account can be connected.",
           _optional(_text(16)), "secret", secret=True),
    Option("log_level", "INFO", "Log level: DEBUG, INFO, WARNING, ERROR or CRITICAL.",
           _choice("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", upper=True), "level"),
    Option("access_log", True, "Log one line per RPC on the `almanac.access` logger.",
           _bool, "bool"),
    Option("metrics_port", None,
           "TCP port of the process's Prometheus endpoint (`/metrics`); unset: no metrics. "
           "`almanac up` gives its processes consecutive ports from this one (account, "
           "calendar, event, availability, activity, contact, resource, sync, gateway); "
           "0 picks a free port.",
           _optional(_PORT), "port"),
    Option("event_loop", "uvloop",
           "Event loop of the server processes: `uvloop` (libuv; less CPU per call) or "
           "`asyncio` (the standard library's).", _choice("uvloop", "asyncio"), "choice"),
    Option("otel_exporter", "none",
           "Trace exporter: `none` (tracing off), `console` (spans on stdout) or `otlp`.",
           _choice("none", "console", "otlp"), "choice"),
    Option("otel_endpoint", "http://127.0.0.1:4317",
           "OTLP/gRPC collector endpoint (used when `otel_exporter` is `otlp`).",
           _http_url, "url"),
    Option("grace_seconds", 5.0,
           "On shutdown, how long in-flight RPCs may finish before they are cancelled.",
           _float(0), "seconds"),
    Option("drain_seconds", 0.5,
           "On shutdown, time between health NOT_SERVING and refusing new RPCs, so load "
           "balancers notice.", _float(0), "seconds"),
    Option("keepalive_time_ms", 30000,
           "Interval of server keepalive pings; finds dead stream clients.",
           _int(1000), "ms"),
    Option("keepalive_timeout_ms", 10000,
           "How long a keepalive ping may go unanswered before the connection is closed.",
           _int(100), "ms"),
    Option("max_connection_age_ms", 300_000,
           "A connection older than this is asked to reconnect (GOAWAY), so long-lived "
           "clients rebalance onto new replicas; 0: no limit.",
           _int(0), "ms"),
    Option("max_connection_age_grace_ms", 60_000,
           "How long calls may go on after that GOAWAY; longer ones (activity streams) "
           "are then cut and resume from their cursor.",
           _int(0), "ms"),
    Option("max_receive_message_bytes", 4 << 20,
           "Largest request message accepted (bytes, or e.g. `4MiB`).", _size, "size"),
    Option("max_send_message_bytes", 16 << 20,
           "Largest response message sent (bytes, or e.g. `16MiB`).", _size, "size"),
    Option("max_concurrent_rpcs", None,
           "Cap on RPCs handled at once per process (further RPCs wait); unset: no cap.",
           _optional(_int(1)), "int"),
    Option("tls_cert_file", None,
           "PEM certificate chain; with `tls_key_file` the services speak TLS.",
           _optional(_text()), "path"),
    Option("tls_key_file", None, "PEM private key of `tls_cert_file`.",
           _optional(_text()), "path"),
    Option("tls_client_ca_file", None,
           "PEM CA bundle; when set, clients must present a certificate it signed (mTLS).",
           _optional(_text()), "path"),
    Option("rate_limit_per_second", 0.0,
           "Requests a second each API token may make on average, per process; "
           "0 turns the limit off. Over it: RESOURCE_EXHAUSTED with a RetryInfo.",
           _float(0), "number"),
    Option("rate_limit_burst", 20,
           "Requests a token may make at once before `rate_limit_per_second` applies.",
           _int(1), "count"),
    Option("page_token_secret", None,
           "Key that signs page tokens (at least 16 characters); unset: derived from the "
           "store, so every replica agrees.",
           _optional(_text(16)), "secret", secret=True),
    Option("secret_key", None,
           "Keys that encrypt connector secrets at rest (URL-safe base64 of 32 bytes; "
           "comma-separated, the first encrypts, all decrypt). Overrides `secret_key_file`.",
           _optional(_text(16)), "secret", secret=True),
    Option("secret_key_file", "./data/secret-key",
           "File holding the connector-secret keys, one a line; `almanac up` creates it "
           "when no key is configured; `almanac keys rotate` adds a new key.",
           _text(), "path"),
    Option("activity_heartbeat_seconds", 15.0,
           "Interval of heartbeats on an idle activity stream.",
           _float(0, exclusive=True), "seconds"),
    Option("activity_retention_days", 30.0,
           "How long activities are kept (fractions allowed); older cursors must resync.",
           _float(0, exclusive=True), "days"),
    Option("tombstone_retention_days", 30.0,
           "How long deleted events stay as tombstones (`show_deleted`, incremental sync) "
           "before the sync worker purges them.",
           _float(0, exclusive=True), "days"),
    Option("retention_interval_seconds", 3600.0,
           "How often the sync worker purges old tombstones and expired idempotency keys.",
           _float(0, exclusive=True), "seconds"),
    Option("activity_poll_seconds", 0.01,
           "How often the activity service polls the log on SQLite (PostgreSQL notifies).",
           _float(0, exclusive=True), "seconds"),
    Option("activity_ring_size", 10_000,
           "Recent activities kept in memory per activity service process; a stream that "
           "falls further behind than this ends with RESOURCE_EXHAUSTED and resumes.",
           _int(100), "count"),
    Option("activity_slow_seconds", 30.0,
           "How long a stream may be unable to send (its client not reading) before it ends "
           "with RESOURCE_EXHAUSTED.",
           _float(0, exclusive=True), "seconds"),
    Option("connector_backends", {},
           "Remote connector backends beyond the built-in ones, as `type=module:Class` pairs "
           "separated by commas (type: `caldav`, `google` or `microsoft_graph`; the class "
           "extends `connectors.remote.RemoteBackend`).",
           _backends, "mapping"),
    Option("upstream_timeout_seconds", 10.0,
           "How long a write to a remote account waits for its upstream before failing "
           "with UNAVAILABLE (nothing is written then).",
           _float(0, exclusive=True), "seconds"),
    Option("sync_interval_seconds", 60.0,
           "How often the sync worker pulls each remote account's changes (SyncAccount "
           "asks for one at once).",
           _float(0, exclusive=True), "seconds"),
    Option("sync_poll_seconds", 1.0,
           "How often the sync worker looks for accounts that are due.",
           _float(0, exclusive=True), "seconds"),
    Option("sync_lease_seconds", 60.0,
           "How long a sync worker holds an account without renewing; another worker "
           "takes it over after that (e.g. when one died).",
           _float(0, exclusive=True), "seconds"),
    Option("sync_concurrency", 4, "Accounts one sync worker syncs at once.",
           _int(1, 256), "count"),
    Option("feed_inactive_days", 30.0,
           "A calendar subscriber not fetched for this long is listed as inactive.",
           _float(0, exclusive=True), "days"),
]  # fmt: skip

SCHEMA: dict[str, Option] = {o.name: o for o in _OPTIONS}

SERVICE_PORT_OPTIONS = tuple(n for n in SCHEMA if n.endswith("_port"))


def _default(name: str) -> Any:
    """The table's default: the dataclass below only spells out types for mypy."""
    return SCHEMA[name].default


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated settings; build with `load_settings`, never by hand in services."""

    store_url: str = _default("store_url")
    host: str = _default("host")
    account_port: int = _default("account_port")
    calendar_port: int = _default("calendar_port")
    event_port: int = _default("event_port")
    contact_port: int = _default("contact_port")
    resource_port: int = _default("resource_port")
    availability_port: int = _default("availability_port")
    activity_port: int = _default("activity_port")
    sync_port: int = _default("sync_port")
    gateway_port: int = _default("gateway_port")
    gateway: bool = _default("gateway")
    gateway_cors_origins: str = _default("gateway_cors_origins")
    gateway_timeout_seconds: float = _default("gateway_timeout_seconds")
    service_addresses: dict[str, str] = field(default_factory=dict)
    single_port: int = _default("single_port")
    bootstrap_token: str | None = field(default=_default("bootstrap_token"), repr=False)
    log_level: str = _default("log_level")
    access_log: bool = _default("access_log")
    metrics_port: int | None = _default("metrics_port")
    event_loop: str = _default("event_loop")
    otel_exporter: str = _default("otel_exporter")
    otel_endpoint: str = _default("otel_endpoint")
    grace_seconds: float = _default("grace_seconds")
    drain_seconds: float = _default("drain_seconds")
    keepalive_time_ms: int = _default("keepalive_time_ms")
    keepalive_timeout_ms: int = _default("keepalive_timeout_ms")
    max_connection_age_ms: int = _default("max_connection_age_ms")
    max_connection_age_grace_ms: int = _default("max_connection_age_grace_ms")
    max_receive_message_bytes: int = _default("max_receive_message_bytes")
    max_send_message_bytes: int = _default("max_send_message_bytes")
    max_concurrent_rpcs: int | None = _default("max_concurrent_rpcs")
    tls_cert_file: str | None = _default("tls_cert_file")
    tls_key_file: str | None = _default("tls_key_file")
    tls_client_ca_file: str | None = _default("tls_client_ca_file")
    rate_limit_per_second: float = _default("rate_limit_per_second")
    rate_limit_burst: int = _default("rate_limit_burst")
    page_token_secret: str | None = field(default=_default("page_token_secret"), repr=False)
    secret_key: str | None = field(default=_default("secret_key"), repr=False)
    secret_key_file: str = _default("secret_key_file")
    activity_heartbeat_seconds: float = _default("activity_heartbeat_seconds")
    activity_retention_days: float = _default("activity_retention_days")
    tombstone_retention_days: float = _default("tombstone_retention_days")
    retention_interval_seconds: float = _default("retention_interval_seconds")
    activity_poll_seconds: float = _default("activity_poll_seconds")
    activity_ring_size: int = _default("activity_ring_size")
    activity_slow_seconds: float = _default("activity_slow_seconds")
    connector_backends: dict[str, str] = field(default_factory=dict)
    upstream_timeout_seconds: float = _default("upstream_timeout_seconds")
    sync_interval_seconds: float = _default("sync_interval_seconds")
    sync_poll_seconds: float = _default("sync_poll_seconds")
    sync_lease_seconds: float = _default("sync_lease_seconds")
    sync_concurrency: int = _default("sync_concurrency")
    feed_inactive_days: float = _default("feed_inactive_days")

    def __post_init__(self) -> None:
        # Direct construction (tests, embedding) is validated like load_settings.
        for option in SCHEMA.values():
            raw = getattr(self, option.name)
            value = _parse(option, raw, "given to Settings")
            if value is not raw:
                object.__setattr__(self, option.name, value)
        _validate(self)

    @property
    def tls_enabled(self) -> bool:
        return self.tls_cert_file is not None

    def port_for(self, service: str) -> int:
        """The configured port of ``service`` (``calendar`` → ``calendar_port``)."""
        name = f"{service}_port"
        if name not in SERVICE_PORT_OPTIONS:
            raise ValueError(f"unknown service {service!r}")
        value: int = getattr(self, name)
        return value

    def addresses_of(self, service: str) -> str:
        """Where ``service`` is reached: `service_addresses`, else ``host:<its port>``."""
        found = self.service_addresses.get(service)
        if found:
            return found
        # A wildcard bind is reached over loopback from this host.
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return (
            f"[{host}]:{self.port_for(service)}"
            if ":" in host
            else f"{host}:{self.port_for(service)}"
        )

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied, validated like any other source."""
        unknown = sorted(set(changes) - set(SCHEMA))
        if unknown:
            raise ValueError(f"unknown option(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)


# The dataclass spells out types for mypy; the table is what parses and what
# the defaults come from. A field missing on either side fails at import.
assert [f.name for f in dataclasses.fields(Settings)] == list(SCHEMA), "SCHEMA/Settings drift"


def _parse(option: Option, raw: object, source: str) -> Any:
    try:
        return option.parse(raw)
    except ValueError as exc:
        reason = str(exc)
        if option.secret:  # never echo a secret into logs
            reason = reason.replace(repr(raw), "<hidden>")
        raise ValueError(f"invalid value for option {option.name} ({source}): {reason}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ValueError(f"config file {path} (from {CONFIG_ENV}) does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read config file {path}: {exc}") from None
    unknown = sorted(set(data) - set(SCHEMA))
    if unknown:
        raise ValueError(f"unknown option(s) in config file {path}: {', '.join(unknown)}")
    return data


def load_settings(
    overrides: Mapping[str, object] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
) -> Settings:
    """Resolve settings from overrides > environment > TOML file > defaults.

    ``environ`` defaults to ``os.environ``; ``config_file`` defaults to the
    ``ALMANAC_CONFIG`` variable of that environment.
    """
    env = os.environ if environ is None else environ
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(overrides) - set(SCHEMA))
    if unknown:
        raise ValueError(f"unknown option(s): {', '.join(unknown)}")

    path = config_file if config_file is not None else (env.get(CONFIG_ENV) or None)
    file_values = _read_toml(Path(path)) if path else {}

    values: dict[str, Any] = {}
    for name, option in SCHEMA.items():
        if name in overrides:
            values[name] = _parse(option, overrides[name], "from overrides")
        elif option.env in env:
            values[name] = _parse(option, env[option.env], f"from {option.env}")
        elif name in file_values:
            values[name] = _parse(option, file_values[name], f"from {path}")
        else:
            values[name] = option.default
    return Settings(**values)


def _validate(s: Settings) -> None:
    if (s.tls_cert_file is None) != (s.tls_key_file is None):
        raise ValueError("options tls_cert_file and tls_key_file must be set together")
    if s.tls_client_ca_file is not None and s.tls_cert_file is None:
        raise ValueError("option tls_client_ca_file needs tls_cert_file and tls_key_file")
    seen: dict[int, str] = {}
    for name in SERVICE_PORT_OPTIONS:
        port = getattr(s, name)
        if port and port in seen:
            raise ValueError(f"options {seen[port]} and {name} both use port {port}")
        seen.setdefault(port, name)


# --- CLI and docs ---------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one ``--flag`` per option; unset flags stay ``None`` (= not overridden)."""
    group = parser.add_argument_group("settings (flags override ALMANAC_* variables)")
    for option in SCHEMA.values():
        group.add_argument(
            option.flag,
            dest=option.name,
            default=None,
            metavar=option.type_name.upper(),
            help=f"{option.help} [env {option.env}; default {_fmt_default(option)}]",
        )


def overrides_from_args(args: argparse.Namespace) -> dict[str, object]:
    """The overrides given on the command line (flags added by `add_arguments`)."""
    return {n: v for n in SCHEMA if (v := getattr(args, n, None)) is not None}


def _fmt_default(option: Option) -> str:
    value = option.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if option.type_name == "size" and value % (1 << 20) == 0:
        return f"{value >> 20} MiB"
    return str(value)


def render_markdown() -> str:
    """The settings table for the README, generated from `SCHEMA`."""
    lines = [
        "| Option | Environment variable | Default | Description |",
        "|---|---|---|---|",
    ]
    for option in SCHEMA.values():
        help_text = option.help.replace("|", "\\|")
        lines.append(
            f"| `{option.name}` | `{option.env}` | `{_fmt_default(option)}` | {help_text} |"
        )
    return "\n".join(lines) + "\n"
