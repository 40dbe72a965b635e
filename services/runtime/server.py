"""The server factory every Almanac service runs on.

`start_server` builds a ``grpc.aio`` server with the runtime interceptor,
keepalive, message-size and concurrency limits, gRPC health and server
reflection, binds it (TLS or mutual TLS when configured) and starts it.
`RunningServer.shutdown` is the graceful sequence: health NOT_SERVING,
the ``on_shutdown`` hooks (so long-lived streams can end cleanly), a short
drain so load balancers notice, then ``stop(grace_seconds)``.
`serve_forever` does that on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc

from services.runtime.channels import connection_age_options
from services.runtime.config import Settings
from services.runtime.interceptors import build_interceptor
from services.runtime.metrics import RpcMetrics
from services.runtime.principal import Authenticator
from services.runtime.ratelimit import RateLimiter
from services.runtime.tracing import RpcTracer, Tracing, setup_tracing

__all__ = [
    "RunningServer",
    "ServerStartError",
    "ShutdownHook",
    "serve_forever",
    "server_options",
    "start_server",
]

_log = logging.getLogger("almanac.server")

ShutdownHook = Callable[[], Awaitable[None] | None]

# Clients may ping an idle connection this often before the server answers
# with GOAWAY "too_many_pings"; generous enough for client keepalives of 10 s.
_MIN_CLIENT_PING_INTERVAL_MS = 5000


class ServerStartError(RuntimeError):
    """The server could not be configured or could not bind its address."""


@dataclass
class RunningServer:
    """A started service: its server, health servicer and bound port."""

    service_name: str
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    host: str
    port: int
    settings: Settings
    service_full_names: tuple[str, ...]
    tracing: Tracing
    owns_tracing: bool = True  # created by start_server, so shut down with it
    on_shutdown: list[ShutdownHook] = field(default_factory=list)
    _shutdown_task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        """``host:port`` as a client would dial it."""
        return _address(self.host, self.port)

    async def shutdown(self, grace: float | None = None) -> None:
        """Gracefully stop; concurrent and repeated calls wait for the same shutdown."""
        if self._shutdown_task is None:
            self._shutdown_task = asyncio.ensure_future(self._shutdown(grace))
        await asyncio.shield(self._shutdown_task)

    async def _shutdown(self, grace: float | None) -> None:
        _log.info("almanac-%s shutting down", self.service_name)
        await self.health.enter_graceful_shutdown()
        for hook in self.on_shutdown:
            try:
                result = hook()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                _log.exception("on_shutdown hook %r failed", hook)
        if self.settings.drain_seconds > 0:
            await asyncio.sleep(self.settings.drain_seconds)
        await self.server.stop(self.settings.grace_seconds if grace is None else grace)
        if self.owns_tracing:
            self.tracing.shutdown()
        else:
            self.tracing.force_flush()
        _log.info("almanac-%s stopped", self.service_name)

    async def wait_for_termination(self) -> None:
        await self.server.wait_for_termination()


def _address(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def server_options(settings: Settings) -> list[tuple[str, int]]:
    """The channel arguments of every Almanac server."""
    return [
        # A second process on the same port must fail, not silently share it
        # (grpc/grpc#16920).
        ("grpc.so_reuseport", 0),
        ("grpc.keepalive_time_ms", settings.keepalive_time_ms),
        ("grpc.keepalive_timeout_ms", settings.keepalive_timeout_ms),
        ("grpc.keepalive_permit_without_calls", 1),
        # Keep probing an idle activity stream: the default (2) stops server
        # pings after two without data, so a dead subscriber would never be found.
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", _MIN_CLIENT_PING_INTERVAL_MS),
        ("grpc.max_receive_message_length", settings.max_receive_message_bytes),
        ("grpc.max_send_message_length", settings.max_send_message_bytes),
        *connection_age_options(settings),
    ]


def _read_pem(path: str, option: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ServerStartError(f"cannot read {option} {path!r}: {exc.strerror or exc}") from None


def _credentials(settings: Settings) -> grpc.ServerCredentials | None:
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    cert = _read_pem(settings.tls_cert_file, "tls_cert_file")
    key = _read_pem(settings.tls_key_file, "tls_key_file")
    ca = (
        _read_pem(settings.tls_client_ca_file, "tls_client_ca_file")
        if settings.tls_client_ca_file
        else None
    )
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=ca is not None
    )


async def start_server(
    service_name: str,
    register: Sequence[Callable[[grpc.aio.Server], None]],
    service_full_names: Sequence[str],
    settings: Settings,
    *,
    port: int,
    authenticator: Authenticator,
    public_methods: Iterable[str] = (),
    tracing: Tracing | None = None,
) -> RunningServer:
    """Build, bind and start the server of ``almanac-<service_name>``.

    ``register`` callables add the servicers (``lambda s:
    add_FooServiceServicer_to_server(FooServicer(...), s)``);
    ``service_full_names`` (``almanac.v1.FooService``) get a health entry
    and are listed by reflection. ``port`` 0 binds a free port, reported on
    the result. ``tracing`` defaults to what the settings ask for.
    """
    credentials = _credentials(settings)  # before anything needs cleaning up
    owns_tracing = tracing is None
    if tracing is None:
        tracing = setup_tracing(settings, service_name)
    interceptor = build_interceptor(
        authenticator,
        tracer=RpcTracer(tracing.tracer) if tracing.tracer is not None else None,
        access_log=settings.access_log,
        public_methods=public_methods,
        rate_limiter=(
            RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
            if settings.rate_limit_per_second > 0
            else None
        ),
        metrics=RpcMetrics() if settings.metrics_port is not None else None,
    )
    server = grpc.aio.server(
        options=server_options(settings),
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
    )
    # Every servicer, health and reflection included, registers through the
    # interceptor, which wraps its handlers once (no per-RPC interceptor step).
    registrar = interceptor.registrar(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, registrar)
    for add in register:
        add(registrar)
    # Not reflection.enable_server_reflection: it picks the sync servicer for
    # anything that is not a grpc.aio.Server, such as the registrar.
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
        reflection.aio.ReflectionServicer(
            (*service_full_names, health.SERVICE_NAME, reflection.SERVICE_NAME)
        ),
        registrar,
    )

    address = _address(settings.host, port)
    try:
        if credentials is None:
            bound = server.add_insecure_port(address)
        else:
            bound = server.add_secure_port(address, credentials)
    except RuntimeError:
        bound = 0
    if bound == 0:
        await server.stop(None)
        if owns_tracing:
            tracing.shutdown()
        raise ServerStartError(
            f"almanac-{service_name} cannot listen on {address}: the address is in use "
            "or not available (set GRPC_VERBOSITY=debug for details)"
        )

    for name in ("", *service_full_names):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    await server.start()
    running = RunningServer(
        service_name=service_name,
        server=server,
        health=health_servicer,
        host=settings.host,
        port=bound,
        settings=settings,
        service_full_names=tuple(service_full_names),
        tracing=tracing,
        owns_tracing=owns_tracing,
    )
    _log.info(
        "almanac-%s listening on %s%s",
        service_name,
        running.address,
        " (mTLS)" if settings.tls_client_ca_file else " (TLS)" if credentials else "",
    )
    return running


async def serve_forever(
    running: RunningServer,
    signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
) -> None:
    """Serve until SIGTERM/SIGINT (or the server stops), then shut down gracefully.

    A second signal during the shutdown cuts the grace period short.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed: list[signal.Signals] = []
    hurry: set[asyncio.Task[None]] = set()

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            _log.warning("%s again: stopping almanac-%s now", sig.name, running.service_name)
            task = loop.create_task(running.server.stop(0))
            hurry.add(task)
            task.add_done_callback(hurry.discard)
        else:
            _log.info("%s received", sig.name)
            stop.set()

    for sig in signals:
        try:
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or a platform without signals on the loop
    waiters = [
        asyncio.ensure_future(stop.wait()),
        asyncio.ensure_future(running.server.wait_for_termination()),
    ]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        await running.shutdown()
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        for sig in installed:
            loop.remove_signal_handler(sig)
