from __future__ import annotations

from pathlib import Path

import pytest

from aios.controlplane.errors import SettingsError
from aios.controlplane.settings import Settings


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
