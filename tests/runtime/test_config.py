"""Settings: one table, four sources in priority order, errors that name the option."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from services.runtime.config import (
    SCHEMA,
    Settings,
    add_arguments,
    load_settings,
    overrides_from_args,
    render_markdown,
)


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "almanac.toml"
    path.write_text(text)
    return path


def test_defaults_work_on_a_laptop() -> None:
    s = load_settings(environ={})
    assert s == Settings()
    assert s.store_url == "sqlite:///./data/almanac.db"
    assert s.host == "127.0.0.1"
    assert [s.port_for(n) for n in ("account", "calendar", "event", "contact")] == [
        50051,
        50052,
        50053,
        50054,
    ]
    assert (s.resource_port, s.availability_port, s.activity_port) == (50055, 50056, 50057)
    assert s.otel_exporter == "none" and s.access_log is True and s.log_level == "INFO"
    assert s.max_receive_message_bytes == 4 << 20 and s.max_send_message_bytes == 16 << 20
    assert s.bootstrap_token is None and s.max_concurrent_rpcs is None
    assert (s.grace_seconds, s.drain_seconds) == (5.0, 0.5)
    assert not s.tls_enabled


def test_schema_and_dataclass_agree() -> None:
    assert [f.name for f in dataclasses.fields(Settings)] == list(SCHEMA)
    for option in SCHEMA.values():
        assert option.env == "ALMANAC_" + option.name.upper()
        assert option.help.endswith(".")


def test_precedence_override_env_toml_default(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'calendar_port = 6002\nevent_port = 6003\nhost = "0.0.0.0"\n')
    env = {
        "ALMANAC_CONFIG": str(path),
        "ALMANAC_CALENDAR_PORT": "7002",
        "ALMANAC_CONTACT_PORT": "7004",
    }
    s = load_settings({"calendar_port": 8002, "account_port": None}, environ=env)
    assert s.calendar_port == 8002  # override beats env and file
    assert s.contact_port == 7004  # env beats default
    assert s.event_port == 6003  # file beats default
    assert s.host == "0.0.0.0"
    assert s.account_port == 50051  # a None override is "not given"
    # env beats file
    assert load_settings(environ=env).calendar_port == 7002
    # explicit config_file argument instead of ALMANAC_CONFIG
    assert load_settings(environ={}, config_file=path).event_port == 6003


def test_parsing_of_types(tmp_path: Path) -> None:
    env = {
        "ALMANAC_ACCESS_LOG": "off",
        "ALMANAC_LOG_LEVEL": "debug",
        "ALMANAC_GRACE_SECONDS": "1.5",
        "ALMANAC_MAX_RECEIVE_MESSAGE_BYTES": "8MiB",
        "ALMANAC_MAX_SEND_MESSAGE_BYTES": "65536",
        "ALMANAC_MAX_CONCURRENT_RPCS": "100",
        "ALMANAC_OTEL_EXPORTER": "OTLP",
        "ALMANAC_BOOTSTRAP_TOKEN": "",  # empty: explicitly unset
    }
    s = load_settings(environ=env)
    assert s.access_log is False
    assert s.log_level == "DEBUG"
    assert s.grace_seconds == 1.5
    assert s.max_receive_message_bytes == 8 << 20
    assert s.max_send_message_bytes == 65536
    assert s.max_concurrent_rpcs == 100
    assert s.otel_exporter == "otlp"
    assert s.bootstrap_token is None
    path = write_toml(tmp_path, "access_log = false\ngrace_seconds = 2\n")
    s = load_settings(environ={}, config_file=path)
    assert s.access_log is False and s.grace_seconds == 2.0


@pytest.mark.parametrize(
    ("env", "option"),
    [
        ({"ALMANAC_CALENDAR_PORT": "abc"}, "calendar_port"),
        ({"ALMANAC_CALENDAR_PORT": "70000"}, "calendar_port"),
        ({"ALMANAC_ACCESS_LOG": "maybe"}, "access_log"),
        ({"ALMANAC_LOG_LEVEL": "LOUD"}, "log_level"),
        ({"ALMANAC_OTEL_EXPORTER": "jaeger"}, "otel_exporter"),
        ({"ALMANAC_OTEL_ENDPOINT": "localhost:4317"}, "otel_endpoint"),
        ({"ALMANAC_GRACE_SECONDS": "-1"}, "grace_seconds"),
        ({"ALMANAC_DRAIN_SECONDS": "nan"}, "drain_seconds"),
        ({"ALMANAC_MAX_RECEIVE_MESSAGE_BYTES": "lots"}, "max_receive_message_bytes"),
        ({"ALMANAC_MAX_CONCURRENT_RPCS": "0"}, "max_concurrent_rpcs"),
        ({"ALMANAC_STORE_URL": "mysql://x"}, "store_url"),
        ({"ALMANAC_HOST": " "}, "host"),
        ({"ALMANAC_ACTIVITY_HEARTBEAT_SECONDS": "0"}, "activity_heartbeat_seconds"),
        ({"ALMANAC_ACTIVITY_RETENTION_DAYS": "0"}, "activity_retention_days"),
        ({"ALMANAC_KEEPALIVE_TIME_MS": "10"}, "keepalive_time_ms"),
    ],
)
def test_bad_env_value_names_the_option(env: dict[str, str], option: str) -> None:
    with pytest.raises(ValueError, match=rf"option {option} \(from ALMANAC_{option.upper()}\)"):
        load_settings(environ=env)


def test_bad_values_from_file_and_overrides(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'event_port = "eighty"\n')
    with pytest.raises(ValueError, match=rf"option event_port \(from {path}\)"):
        load_settings(environ={"ALMANAC_CONFIG": str(path)})
    with pytest.raises(ValueError, match=r"option access_log \(from overrides\)"):
        load_settings({"access_log": 3}, environ={})
    with pytest.raises(ValueError, match="option event_port"):
        load_settings({"event_port": True}, environ={})


def test_file_problems(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_settings(environ={"ALMANAC_CONFIG": str(tmp_path / "missing.toml")})
    with pytest.raises(ValueError, match=r"unknown option.*colour"):
        load_settings(environ={}, config_file=write_toml(tmp_path, 'colour = "blue"\n'))
    with pytest.raises(ValueError, match="cannot read config file"):
        load_settings(environ={}, config_file=write_toml(tmp_path, "this is not toml"))
    with pytest.raises(ValueError, match=r"unknown option.*nope"):
        load_settings({"nope": 1}, environ={})


def test_cross_field_rules() -> None:
    with pytest.raises(ValueError, match="tls_cert_file and tls_key_file"):
        load_settings({"tls_cert_file": "/c.pem"}, environ={})
    with pytest.raises(ValueError, match="tls_client_ca_file"):
        load_settings({"tls_client_ca_file": "/ca.pem"}, environ={})
    with pytest.raises(ValueError, match="calendar_port and event_port both use port 6000"):
        load_settings({"calendar_port": 6000, "event_port": 6000}, environ={})
    both_free = load_settings({"calendar_port": 0, "event_port": 0}, environ={})
    assert both_free.calendar_port == both_free.event_port == 0
    tls = load_settings({"tls_cert_file": "/c.pem", "tls_key_file": "/k.pem"}, environ={})
    assert tls.tls_enabled


def test_secrets_are_not_echoed() -> None:
    s = load_settings(environ={"ALMANAC_BOOTSTRAP_TOKEN": "s3cret-bootstrap-token"})
    assert s.bootstrap_token == "s3cret-bootstrap-token"
    assert "s3cret" not in repr(s)
    with pytest.raises(ValueError) as err:
        load_settings(environ={"ALMANAC_PAGE_TOKEN_SECRET": "short"})
    assert "page_token_secret" in str(err.value) and "short" not in str(err.value)


def test_replace_validates() -> None:
    s = Settings().replace(calendar_port=0, access_log="no")
    assert s.calendar_port == 0 and s.access_log is False
    with pytest.raises(ValueError, match="calendar_port"):
        Settings().replace(calendar_port=-1)


def test_cli_flags_override() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--calendar-port", "9000", "--access-log", "false"])
    overrides = overrides_from_args(args)
    assert overrides == {"calendar_port": "9000", "access_log": "false"}
    s = load_settings(overrides, environ={"ALMANAC_CALENDAR_PORT": "7000"})
    assert s.calendar_port == 9000 and s.access_log is False
    assert "ALMANAC_CALENDAR_PORT" in parser.format_help()


def test_markdown_table_lists_every_option() -> None:
    table = render_markdown()
    lines = table.strip().splitlines()
    assert lines[0].startswith("| Option | Environment variable | Default |")
    assert len(lines) == 2 + len(SCHEMA)
    for option in SCHEMA.values():
        assert f"`{option.env}`" in table
    assert "| `max_send_message_bytes` | `ALMANAC_MAX_SEND_MESSAGE_BYTES` | `16 MiB` |" in table
    assert "| `bootstrap_token` | `ALMANAC_BOOTSTRAP_TOKEN` | `unset` |" in table


def test_direct_construction_is_validated_too() -> None:
    assert Settings(max_send_message_bytes="1MiB").max_send_message_bytes == 1 << 20  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="option calendar_port"):
        Settings(calendar_port=-1)
    with pytest.raises(ValueError, match="tls_cert_file and tls_key_file"):
        Settings(tls_key_file="/k.pem")
    with pytest.raises(ValueError, match="unknown option"):
        Settings().replace(colour="blue")


def test_empty_connector_backends_means_the_built_in_ones(tmp_path: Path) -> None:
    """``ALMANAC_CONNECTOR_BACKENDS=`` (and ``""`` in TOML) adds nothing to the built-ins."""
    assert load_settings(environ={"ALMANAC_CONNECTOR_BACKENDS": ""}).connector_backends == {}
    assert load_settings(environ={"ALMANAC_CONNECTOR_BACKENDS": " , "}).connector_backends == {}
    path = write_toml(tmp_path, 'connector_backends = ""\n')
    assert load_settings(environ={"ALMANAC_CONFIG": str(path)}).connector_backends == {}
    pair = "caldav=tests.connectors.reference.backend:ReferenceBackend"
    loaded = load_settings(environ={"ALMANAC_CONNECTOR_BACKENDS": pair})
    assert loaded.connector_backends == {"caldav": pair.split("=", 1)[1]}
