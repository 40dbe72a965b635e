"""The ``almanac`` command: run the suite, one service, or manage tokens.

almanac up [--only NAME ...]        every service and the sync worker, each its own process
almanac up --single-process         all of it in one process, gRPC and HTTP on one port
almanac serve NAME [--port N]       one service (or `sync`, or `gateway`) in this process
almanac token create --scope S ...  mint an API token (prints the secret once)
almanac import FILE --calendar NAME  import an ICS file (checked first, then in chunks)
almanac export --calendar NAME      write a calendar as ICS
almanac keys rotate [--keep-old]    new key for connector secrets; re-encrypts them all
almanac config                      the settings table with defaults
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.handlers
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence

import grpc
from almanac.v1 import account_service_pb2 as acc_pb
from grpc_health.v1 import health_pb2, health_pb2_grpc

from connectors.base import WriteContext
from connectors.state.tokens import new_secret
from gateway import GatewayOptions
from gateway import serve as serve_gateway
from services.catalog import CATALOG, observe_process
from services.runtime.client import TOKEN_FILE, call
from services.runtime.config import Settings, load_settings, render_markdown
from services.runtime.context import open_runtime
from services.runtime.exporter import start_exporter
from services.runtime.keys import StartupError, ensure_key_file, rotate
from services.runtime.logs import setup_logging
from services.runtime.loop import run as run_loop
from services.runtime.server import serve_forever, start_server
from services.single import run_single
from services.sync.process import SERVICE_NAME as SYNC_SERVICE
from services.sync.process import serve_sync
from services.transfer import export_calendar, import_file

__all__ = ["build_parser", "main"]

_log = logging.getLogger("almanac")


# Every process of the suite: the gRPC services, the sync worker, the gateway.
PROCESSES = (*CATALOG, "sync", "gateway")


def _port_setting(name: str) -> str:
    return CATALOG[name].port_setting if name in CATALOG else f"{name}_port"


def _metrics_port(settings: Settings, name: str) -> int | None:
    """Each process its own: ``metrics_port`` plus its place in PROCESSES (0 stays 0)."""
    base = settings.metrics_port
    return base + PROCESSES.index(name) if base else base


def _full_name(name: str) -> str:
    if name == "gateway":
        return "REST gateway (HTTP/JSON)"
    return CATALOG[name].full_name if name in CATALOG else SYNC_SERVICE


def _gateway_options(settings: Settings, port: int | None) -> GatewayOptions:
    origins = tuple(o.strip() for o in settings.gateway_cors_origins.split(",") if o.strip())
    return GatewayOptions(
        host=settings.host,
        port=settings.gateway_port if port is None else port,
        default_timeout=settings.gateway_timeout_seconds,
        cors_origins=origins,
        log_level="warning",
    )


async def _serve_gateway(settings: Settings, port: int | None) -> int:
    # The gateway reaches every service over gRPC at its configured addresses
    # (several replicas each with service_addresses).
    targets = {e.full_name: settings.addresses_of(e.port_setting.removesuffix("_port"))
               for e in CATALOG.values()}  # fmt: skip

    def ready(url: str) -> None:
        print(f"READY gateway {url}", flush=True)

    await serve_gateway(targets, _gateway_options(settings, port), on_ready=ready)
    return 0


async def _serve(name: str, port: int | None) -> int:
    settings = load_settings()
    setup_logging(settings.log_level)
    exporter = await start_exporter(settings, name)
    try:
        return await _serve_process(name, port, settings, exporter is not None)
    finally:
        if exporter is not None:
            await exporter.close()


async def _serve_process(name: str, port: int | None, settings: Settings, measured: bool) -> int:
    if name == "sync":
        await serve_sync(settings, settings.sync_port if port is None else port)
        return 0
    if name == "gateway":
        return await _serve_gateway(settings, port)
    entry = CATALOG[name]
    rt = await open_runtime(settings)
    try:
        servicer = entry.build(rt)
        if measured:
            observe_process(rt, servicer)
        running = await start_server(
            name,
            [lambda server: entry.add(servicer, server)],
            [entry.full_name],
            settings,
            port=getattr(settings, entry.port_setting) if port is None else port,
            authenticator=rt.registry.authenticate,
        )
        if hasattr(servicer, "shutdown"):
            running.on_shutdown.append(servicer.shutdown)
        # Parents (almanac up, tests) read this line to learn the bound port.
        print(f"READY {name} {running.address}", flush=True)
        await serve_forever(running)
    finally:
        await rt.aclose()
    return 0


def _wait_http(url: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                if reply.status == 200:
                    return True
        except OSError:
            time.sleep(0.1)
    return False


def _wait_serving(address: str, deadline: float) -> bool:
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return True
            except grpc.RpcError:
                time.sleep(0.1)
    return False


def _up(only: Sequence[str], single_process: bool = False) -> int:
    settings = load_settings()
    setup_logging(settings.log_level)
    names = list(only) or [p for p in PROCESSES if p != "gateway" or settings.gateway]
    os.makedirs("data", exist_ok=True)
    if not settings.bootstrap_token and not TOKEN_FILE.exists():
        # First start on a laptop: mint an admin token the way Jupyter does, so
        # the quick start needs no setup; a deployment sets the token itself.
        TOKEN_FILE.write_text(new_secret() + "\n")
        TOKEN_FILE.chmod(0o600)
        print(f"Created an admin token in {TOKEN_FILE} (almanac call uses it).")
    if not settings.bootstrap_token:
        os.environ["ALMANAC_BOOTSTRAP_TOKEN"] = TOKEN_FILE.read_text().strip()
        settings = load_settings()
    if ensure_key_file(settings):
        print(f"Created the key that encrypts connector secrets in {settings.secret_key_file}.")
    # Migrate and bootstrap once up front so the services do not race for it.
    asyncio.run(_prepare())
    if single_process:
        return run_single(settings)
    children: dict[str, subprocess.Popen[bytes]] = {}
    metrics_ports = {n: _metrics_port(settings, n) for n in names}
    for name in names:
        env = dict(os.environ)
        if metrics_ports[name] is not None:
            env["ALMANAC_METRICS_PORT"] = str(metrics_ports[name])
        # Own session: a terminal's Ctrl-C reaches only this parent, which then
        # stops each child once (a second signal would cut its grace period).
        children[name] = subprocess.Popen(
            [sys.executable, "-m", "services", "serve", name], start_new_session=True, env=env
        )
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    deadline = time.monotonic() + 30
    for name in names:
        address = f"{settings.host}:{getattr(settings, _port_setting(name))}"
        if name == "gateway":
            serving = _wait_http(f"http://{address}/openapi.json", deadline)
        else:
            serving = _wait_serving(address, deadline)
        if not serving or children[name].poll() is not None:
            print(f"almanac-{name} did not become SERVING on {address}", file=sys.stderr)
            stopping = True
            break
    else:
        print(f"\nAlmanac is up (store: {settings.store_url}):")
        for name in names:
            port = getattr(settings, _port_setting(name))
            where = (
                f"http://{settings.host}:{port}  (docs: /docs)"
                if name == "gateway"
                else (f"{settings.host}:{port}")
            )
            if metrics_ports[name]:
                where += f"  (metrics: http://{settings.host}:{metrics_ports[name]}/metrics)"
            print(f"  {_full_name(name):32} {where}")
        print("Press Ctrl-C to stop.\n", flush=True)
    while not stopping and all(c.poll() is None for c in children.values()):
        time.sleep(0.2)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    codes = [child.wait(timeout=settings.grace_seconds + 10) for child in children.values()]
    return 0 if all(c in (0, -signal.SIGTERM) for c in codes) else 1


async def _prepare() -> None:
    rt = await open_runtime(load_settings())
    await rt.aclose()


async def _keys_rotate(keep_old: bool) -> int:
    settings = load_settings()
    rt = await open_runtime(settings)
    try:
        changed, where = await rotate(settings, rt.registry, keep_old)
    finally:
        await rt.aclose()
    print(f"New key in {where}; re-encrypted the secrets of {changed} account(s).")
    print("Restart the running services so that they use it.")
    return 0


async def _token_create(args: argparse.Namespace) -> int:
    settings = load_settings()
    rt = await open_runtime(settings)
    try:
        token = acc_pb.ApiToken(
            display_name=args.name,
            scopes=args.scope,
            accounts=[a if a.startswith("accounts/") else f"accounts/{a}" for a in args.account],
        )
        created, secret = await rt.registry.create_token(token, WriteContext("cli"))
    finally:
        await rt.aclose()
    print(f"{created.name}\n{secret}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``almanac`` (deploy/ files are checked against it too)."""
    parser = argparse.ArgumentParser(
        prog="almanac", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start every service, each in its own process")
    up.add_argument("--only", action="append", choices=sorted(PROCESSES), default=[])
    up.add_argument(
        "--single-process", action="store_true",
        help="every service, the sync worker and the gateway in one process on single_port",
    )  # fmt: skip
    serve = sub.add_parser("serve", help="run one service")
    serve.add_argument("service", choices=sorted(PROCESSES))
    serve.add_argument("--port", type=int, default=None, help="0 picks a free port")
    token = sub.add_parser("token", help="manage API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a token and print its secret once")
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        help="repeatable: admin, calendars:read, calendars:write, ...",
    )
    create.add_argument(
        "--account",
        action="append",
        default=[],
        help="repeatable account id; none means every account (admin only)",
    )
    create.add_argument("--name", default="cli", help="display name")
    call_p = sub.add_parser("call", help="call an RPC with a JSON request, print JSON replies")
    call_p.add_argument("method", help="e.g. CalendarService.ListCalendars")
    call_p.add_argument("json", nargs="?", default="{}", help="the request as JSON")
    call_p.add_argument(
        "--address",
        help="host:port or the replicas' host:port,host:port; default: service_addresses, "
        "else the service's configured port",
    )
    imp = sub.add_parser("import", help="import an ICS file into a calendar")
    imp.add_argument("file", help="the .ics file")
    imp.add_argument("--calendar", required=True, help="e.g. accounts/default/calendars/primary")
    exp = sub.add_parser("export", help="export a calendar as ICS")
    exp.add_argument("--calendar", required=True, help="e.g. accounts/default/calendars/primary")
    exp.add_argument("-o", "--output", default="-", help="file to write; default stdout")
    keys = sub.add_parser("keys", help="manage the key that encrypts connector secrets")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    rotate_p = keys_sub.add_parser("rotate", help="add a new key and re-encrypt every secret")
    rotate_p.add_argument(
        "--keep-old", action="store_true", help="keep the earlier keys in the file (decrypt only)"
    )
    sub.add_parser("config", help="print the settings with their defaults")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except StartupError as exc:
        print(f"almanac: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "up":
        return _up(args.only, args.single_process)
    if args.command == "serve":
        return run_loop(_serve(args.service, args.port), load_settings().event_loop)
    if args.command == "call":
        return call(args.method, args.json, load_settings(), args.address)
    if args.command == "import":
        return import_file(args.file, args.calendar, load_settings())
    if args.command == "export":
        return export_calendar(args.calendar, args.output, load_settings())
    if args.command == "token":
        return asyncio.run(_token_create(args))
    if args.command == "keys":
        return asyncio.run(_keys_rotate(args.keep_old))
    print(render_markdown())
    return 0
