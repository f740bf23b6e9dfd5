from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pytest

from aios.controlplane.errors import SettingsError
from aios.controlplane.settings import Secret, Settings


def test_defaults_use_sqlite_in_data_dir_and_embedded_broker(tmp_path: Path) -> None:
    s = Settings.from_env({"AIOS_DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path}/aios.db"
    assert s.embedded_broker
    assert s.embedded_mqtt_port == 18830
    assert s.mqtt_topic_prefix == "aios"
    assert (s.ingest_batch_size, s.ingest_flush_interval_ms) == (1000, 200)
    assert s.auto_register_devices is True
    endpoint = s.mqtt_endpoint()
    assert (endpoint.host, endpoint.port, endpoint.protocol) == ("127.0.0.1", 18830, "3.1.1")


def test_dev_secret_key_is_generated_once_and_persisted(tmp_path: Path) -> None:
    first = Settings.from_env({"AIOS_DATA_DIR": str(tmp_path)})
    second = Settings.from_env({"AIOS_DATA_DIR": str(tmp_path)})
    assert len(first.secret_key.get()) >= 32
    assert first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert "*" in repr(first)
    assert first.secret_key.get() not in repr(first)


def test_secret_from_file(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("s3cret-from-file\n")
    s = Settings.from_env(
        {"AIOS_DATA_DIR": str(tmp_path), "AIOS_SECRET_KEY_FILE": str(tmp_path / "key")}
    )
    assert s.secret_key.get() == "s3cret-from-file"


def test_production_requires_secret_and_disables_auto_register(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"AIOS_DATA_DIR": str(tmp_path), "AIOS_ENV": "production"})
    assert err.value.name == "AIOS_SECRET_KEY"
    s = Settings.from_env({"AIOS_ENV": "production", "AIOS_SECRET_KEY": "k" * 40})
    assert s.auto_register_devices is False


def test_external_broker_url_with_credentials() -> None:
    s = Settings.from_env(
        {"AIOS_SECRET_KEY": "k", "AIOS_MQTT_URL": "mqtts://ingest:p%40ss@broker.example:8884"}
    )
    e = s.mqtt_endpoint()
    assert (e.host, e.port, e.tls, e.protocol, e.username) == (
        "broker.example",
        8884,
        True,
        "5",
        "ingest",
    )
    assert e.password is not None
    assert e.password.get() == "p@ss"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AIOS_INGEST_BATCH_SIZE", "many"),
        ("AIOS_INGEST_BATCH_SIZE", "0"),
        ("AIOS_EMBEDDED_MQTT_PORT", "70000"),
        ("AIOS_INGEST_ENABLED", "maybe"),
        ("AIOS_DATABASE_URL", "mysql://x"),
        ("AIOS_MQTT_URL", "http://x"),
        ("AIOS_MQTT_TOPIC_PREFIX", "a/+/b"),
        ("AIOS_MQTT_PROTOCOL", "4"),
        ("AIOS_ENV", "staging"),
        ("AIOS_TRUSTED_PROXIES", "*"),
        ("AIOS_TRUSTED_PROXIES", "proxy.example.com"),
        ("AIOS_WEBHOOK_ALLOWED_TARGETS", "10.0.0.0/33"),
        ("AIOS_WEBHOOK_ALLOWED_TARGETS", "http://x"),
    ],
)
def test_invalid_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"AIOS_SECRET_KEY": "k", name: value})
    assert err.value.name == name


def test_secret_and_secret_file_are_exclusive(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("x")
    with pytest.raises(SettingsError, match="not both"):
        Settings.from_env({"AIOS_SECRET_KEY": "k", "AIOS_SECRET_KEY_FILE": str(tmp_path / "key")})


def test_trusted_proxies_and_webhook_allow_list_default_to_none() -> None:
    default = Settings.from_env({"AIOS_SECRET_KEY": "k"})
    assert (default.trusted_proxies, default.webhook_allowed_targets) == ((), ())
    chosen = Settings.from_env(
        {
            "AIOS_SECRET_KEY": "k",
            "AIOS_TRUSTED_PROXIES": "10.0.0.7, 192.168.1.0/24",
            "AIOS_WEBHOOK_ALLOWED_TARGETS": "10.20.0.0/16,Hooks.Corp.Example,*.corp.example",
        }
    )
    assert chosen.trusted_proxies == ("10.0.0.7/32", "192.168.1.0/24")
    assert chosen.webhook_allowed_targets == (
        "10.20.0.0/16",
        "hooks.corp.example",
        "*.corp.example",
    )


# The values of every setting before the declarations replaced the hand-written parser: a change
# here is a change operators see.
DEFAULTS: dict[str, object] = {
    "env": "dev",
    "mqtt_url": "embedded",
    "mqtt_username": None,
    "mqtt_password": None,
    "mqtt_protocol": "5",
    "mqtt_topic_prefix": "aios",
    "mqtt_share_group": "aios-ingest",
    "mqtt_session_expiry_s": 86400,
    "embedded_mqtt_host": "127.0.0.1",
    "embedded_mqtt_port": 18830,
    "embedded_mqtt_anonymous": False,
    "mqtt_ca_file": None,
    "mqtt_client_cert_file": None,
    "mqtt_client_key_file": None,
    "mqtt_provisioner": "none",
    "dynsec_admin_username": None,
    "dynsec_admin_password": None,
    "emqx_hook_secret": None,
    "emqx_api_url": "",
    "emqx_api_key": "",
    "emqx_api_secret": None,
    "ingest_enabled": True,
    "ingest_batch_size": 1000,
    "ingest_flush_interval_ms": 200,
    "ingest_queue_size": 10000,
    "ingest_max_payload_bytes": 262144,
    "ingest_stall_after_s": 30,
    "auto_register_devices": True,
    "log_level": "INFO",
    "access_token_ttl_s": 3600,
    "refresh_token_ttl_s": 30 * 86400,
    "trusted_proxies": (),
    "registration_mode": "first-user",
    "device_mqtt_url": "",
    "presence_heartbeat_interval_s": 10,
    "presence_missed_heartbeats": 3,
    "presence_debounce_ms": 5000,
    "jobs_enabled": True,
    "webhook_timeout_s": 10,
    "webhook_max_attempts": 6,
    "webhook_retry_base_ms": 2000,
    "webhook_cooldown_s": 300,
    "webhook_allowed_targets": (),
}


def test_defaults_are_unchanged(tmp_path: Path) -> None:
    s = Settings.from_env({"AIOS_DATA_DIR": str(tmp_path)})
    assert {name: getattr(s, name) for name in DEFAULTS} == DEFAULTS
    assert s.mqtt_client_id == f"aios-ingest-{socket.gethostname()}"[:64]
    assert s.data_dir == tmp_path


@pytest.mark.parametrize(
    ("name", "raw", "field", "value"),
    [
        ("AIOS_ENV", "production", "auto_register_devices", False),
        ("AIOS_AUTO_REGISTER_DEVICES", "yes", "auto_register_devices", True),
        ("AIOS_INGEST_ENABLED", "off", "ingest_enabled", False),
        ("AIOS_INGEST_BATCH_SIZE", " 50 ", "ingest_batch_size", 50),
        ("AIOS_INGEST_BATCH_SIZE", "", "ingest_batch_size", 1000),  # empty: unset
        ("AIOS_LOG_LEVEL", "debug", "log_level", "DEBUG"),
        ("AIOS_REGISTRATION", "invite", "registration_mode", "invite"),
        ("AIOS_HEARTBEAT_INTERVAL_S", "20", "presence_heartbeat_interval_s", 20),
        ("AIOS_ACCESS_TOKEN_TTL_MIN", "15", "access_token_ttl_s", 900),
        ("AIOS_REFRESH_TOKEN_TTL_DAYS", "2", "refresh_token_ttl_s", 2 * 86400),
        ("AIOS_MQTT_DYNSEC_ADMIN_USERNAME", "admin", "dynsec_admin_username", "admin"),
        ("AIOS_MQTT_CLIENT_ID", "ingest-1", "mqtt_client_id", "ingest-1"),
        ("AIOS_MQTT_TOPIC_PREFIX", "site/a", "mqtt_topic_prefix", "site/a"),
        ("AIOS_DATA_DIR", "~/aios", "data_dir", Path("~/aios").expanduser()),
        ("AIOS_EMQX_HOOK_SECRET", "h", "emqx_hook_secret", Secret("h")),
    ],
)
def test_each_variable_sets_its_field(name: str, raw: str, field: str, value: object) -> None:
    s = Settings.from_env({"AIOS_SECRET_KEY": "k", name: raw})
    assert getattr(s, field) == value


@pytest.mark.parametrize(
    ("environ", "name", "message"),
    [
        ({"AIOS_INGEST_BATCH_SIZE": "0"}, "AIOS_INGEST_BATCH_SIZE", "must be an integer >= 1"),
        ({"AIOS_ACCESS_TOKEN_TTL_MIN": "1441"}, "AIOS_ACCESS_TOKEN_TTL_MIN", "<= 1440"),
        ({"AIOS_LOG_LEVEL": "loud"}, "AIOS_LOG_LEVEL", "must be one of"),
        ({"AIOS_MQTT_CLIENT_ID": "a b"}, "AIOS_MQTT_CLIENT_ID", "1-64 characters"),
        ({"AIOS_EMQX_API_URL": "ftp://x"}, "AIOS_EMQX_API_URL", "http"),
        ({"AIOS_EMQX_API_URL": "http://emqx"}, "AIOS_EMQX_API_URL", "AIOS_EMQX_API_KEY"),
        ({"AIOS_MQTT_CA_FILE": "/etc/hosts"}, "AIOS_MQTT_CA_FILE", "needs an mqtts://"),
        (
            {"AIOS_MQTT_URL": "mqtts://b", "AIOS_MQTT_CA_FILE": "/nowhere.pem"},
            "AIOS_MQTT_CA_FILE",
            "not a readable file",
        ),
        (
            {"AIOS_MQTT_URL": "mqtts://b", "AIOS_MQTT_CLIENT_KEY_FILE": "/etc/hosts"},
            "AIOS_MQTT_CLIENT_KEY_FILE",
            "needs AIOS_MQTT_CLIENT_CERT_FILE",
        ),
        ({"AIOS_MQTT_PROVISIONER": "dynsec"}, "AIOS_MQTT_PROVISIONER", "external Mosquitto"),
        ({"AIOS_MQTT_PASSWORD_FILE": "/nowhere"}, "AIOS_MQTT_PASSWORD_FILE", "cannot read"),
    ],
)
def test_errors_are_one_line_naming_the_variable(
    environ: dict[str, str], name: str, message: str
) -> None:
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"AIOS_SECRET_KEY": "k", **environ})
    assert err.value.name == name
    assert message in err.value.message
    assert "\n" not in str(err.value)


def test_unknown_variables_warn_and_do_not_fail(caplog: pytest.LogCaptureFixture) -> None:
    environ = {
        "AIOS_SECRET_KEY": "k",
        "AIOS_INGEST_BATCHSIZE": "5",  # a typo: warned, ignored
        "AIOS_AGENT_MQTT_URL": "mqtt://x",  # the agent's
        "AIOS_TEST_MODELS": "/m",  # the tests'
        "AIOS_TOKEN": "t",  # an operator command's option
        "AIOS_SECRET_KEY_FILE_X": "",
    }
    with caplog.at_level(logging.WARNING, logger="aios.controlplane.settings"):
        s = Settings.from_env(environ)
    assert s.ingest_batch_size == 1000
    assert [r.getMessage() for r in caplog.records] == [
        "AIOS_INGEST_BATCHSIZE is not a setting and is ignored "
        "(did you mean AIOS_INGEST_BATCH_SIZE?)",
        "AIOS_SECRET_KEY_FILE_X is not a setting and is ignored "
        "(did you mean AIOS_SECRET_KEY_FILE?)",
    ]


def test_settings_do_not_follow_the_environment_after_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AIOS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AIOS_INGEST_BATCH_SIZE", "10")
    s = Settings.from_env(os.environ)
    monkeypatch.setenv("AIOS_INGEST_BATCH_SIZE", "20")
    monkeypatch.setenv("AIOS_MQTT_URL", "mqtt://elsewhere:1883")
    assert (s.ingest_batch_size, s.embedded_broker) == (10, True)
    assert s.mqtt_endpoint().port == 18830
