"""Fixtures for the server runtime tests: the echo service and real servers."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import grpc
import pytest
import pytest_asyncio

from services.runtime.config import Settings
from services.runtime.server import RunningServer, start_server

from .echo import ECHO_SERVICE, TOKENS, EchoServicer, InMemoryAuthenticator

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def _protoc(out: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", *args, f"--python_out={out}"],
        check=True,
        cwd=ROOT,
    )


@pytest.fixture(scope="session")
def echo_pb(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModuleType, ModuleType]:
    """Compile echo_test.proto (and options.proto if needed) into a temp dir."""
    out = tmp_path_factory.mktemp("gen")
    includes = ["-I", str(HERE / "protos"), "-I", "protos", "-I", "protos/third_party"]
    try:
        importlib.import_module("almanac.v1.options_pb2")
    except ImportError:
        # The lead's build generates it into protos/almanac/v1; until then, put
        # a private copy next to the echo bindings and extend the package path.
        _protoc(out, *includes, "almanac/v1/options.proto")
        import almanac.v1

        almanac.v1.__path__.append(str(out / "almanac" / "v1"))
    _protoc(out, *includes, f"--grpc_python_out={out}", "echo_test.proto")
    sys.path.insert(0, str(out))
    pb2 = importlib.import_module("echo_test_pb2")
    pb2_grpc = importlib.import_module("echo_test_pb2_grpc")
    return pb2, pb2_grpc


def make_settings(**changes: object) -> Settings:
    base = Settings(drain_seconds=0.0, grace_seconds=0.5, access_log=True)
    return base.replace(**changes) if changes else base


async def start_echo(
    echo_pb: tuple[ModuleType, ModuleType],
    settings: Settings | None = None,
    servicer: EchoServicer | None = None,
    port: int = 0,
    **kwargs: object,
) -> RunningServer:
    pb2, pb2_grpc = echo_pb
    servicer = servicer or EchoServicer(pb2)
    return await start_server(
        "echo",
        [lambda s: pb2_grpc.add_EchoServiceServicer_to_server(servicer, s)],
        [ECHO_SERVICE],
        settings or make_settings(),
        port=port,
        authenticator=InMemoryAuthenticator(TOKENS),
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def echo_servicer(echo_pb: tuple[ModuleType, ModuleType]) -> EchoServicer:
    return EchoServicer(echo_pb[0])


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def echo_server(
    echo_pb: tuple[ModuleType, ModuleType], echo_servicer: EchoServicer
) -> AsyncIterator[RunningServer]:
    running = await start_echo(echo_pb, servicer=echo_servicer)
    yield running
    await running.shutdown(grace=0)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def channel(echo_server: RunningServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(echo_server.address) as ch:
        yield ch


@pytest.fixture
def stub(channel: grpc.aio.Channel, echo_pb: tuple[ModuleType, ModuleType]) -> object:
    return echo_pb[1].EchoServiceStub(channel)
