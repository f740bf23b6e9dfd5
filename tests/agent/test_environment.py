"""The agent's environment: each override converted from its declaration, errors naming the
variable, secrets from files, unknown and deprecated variables, and the environment read once
per process and passed down (:mod:`aios.agent.environment`, :mod:`aios.agent.config`)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from aios.agent.config import AgentConfig, build_config
from aios.agent.environment import AgentEnvironment, from_process, read_environment
from aios.agent.errors import ConfigError
from aios.agent.inference.model_store import resolve_model

DEVICE = {"device": {"org_id": "o", "device_id": "d"}}


def _config(tmp_path: Path, environ: dict[str, str]) -> AgentConfig:
    return build_config({**DEVICE, "state_dir": str(tmp_path)}, environ=environ)


@pytest.mark.parametrize(
    ("name", "raw", "read", "value"),
    [
        ("AIOS_AGENT_MQTT_KEEPALIVE_S", "45", lambda c: c.mqtt.keepalive_s, 45),
        ("AIOS_AGENT_HEARTBEAT_INTERVAL_S", "2", lambda c: c.heartbeat_interval_s, 2.0),
        ("AIOS_AGENT_SPOOL_MAX_BYTES", "100000", lambda c: c.spool.max_bytes, 100_000),
        ("AIOS_AGENT_APPLY_ENABLED", "false", lambda c: c.apply.enabled, False),
        ("AIOS_AGENT_APPLY_GRACE_S", "0", lambda c: c.apply.grace_s, 0.0),
        ("AIOS_AGENT_MQTT_PROTOCOL", "3.1.1", lambda c: c.mqtt.protocol, "3.1.1"),
        ("AIOS_AGENT_MQTT_TLS_CA", "/ca.pem", lambda c: c.mqtt.tls and c.mqtt.tls.ca, "/ca.pem"),
        ("AIOS_AGENT_ORG_ID", "other", lambda c: c.device.org_id, "other"),
        ("AIOS_AGENT_MQTT_KEEPALIVE_S", "", lambda c: c.mqtt.keepalive_s, 30),  # empty: unset
    ],
)
def test_each_override_is_converted_to_its_field(
    tmp_path: Path, name: str, raw: str, read: object, value: object
) -> None:
    assert callable(read)
    assert read(_config(tmp_path, {name: raw})) == value


BAD_OVERRIDES = {
    "AIOS_AGENT_MQTT_KEEPALIVE_S=soon": "must be an integer (got 'soon')",
    "AIOS_AGENT_MQTT_KEEPALIVE_S=1": "must be an integer >= 5 (got '1')",
    "AIOS_AGENT_HEARTBEAT_INTERVAL_S=0": "must be a number > 0.0 (got '0')",
    "AIOS_AGENT_APPLY_ENABLED=sometimes": "must be true or false",
    "AIOS_AGENT_MQTT_PROTOCOL=4": "must be one of 3.1.1, 5 (got '4')",
    "AIOS_AGENT_MQTT_URL=http://x": "matching regex",
    "AIOS_AGENT_DEVICE_ID=a b": "matching regex",
}


@pytest.mark.parametrize("assignment", sorted(BAD_OVERRIDES))
def test_a_bad_override_names_its_variable(tmp_path: Path, assignment: str) -> None:
    name, raw = assignment.split("=", 1)
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, {name: raw})
    assert str(info.value).startswith(f"{name}: ")
    assert BAD_OVERRIDES[assignment] in str(info.value)


def test_secret_override_from_a_file_and_never_echoed(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret\n")
    config = _config(tmp_path, {"AIOS_AGENT_MQTT_PASSWORD_FILE": str(tmp_path / "pw")})
    assert config.mqtt.password == "s3cret"
    with pytest.raises(ConfigError, match="not both"):
        _config(
            tmp_path,
            {"AIOS_AGENT_MQTT_PASSWORD": "x", "AIOS_AGENT_MQTT_PASSWORD_FILE": str(tmp_path)},
        )


@pytest.mark.parametrize(
    ("environ", "expected", "warned"),
    [
        ({"AIOS_MODEL_PATH": "/m/old.onnx"}, "/m/old.onnx", True),
        ({"AIOS_AGENT_MODEL_PATH": "/m/new.onnx"}, "/m/new.onnx", False),
        (
            {"AIOS_MODEL_PATH": "/m/old.onnx", "AIOS_AGENT_MODEL_PATH": "/m/new.onnx"},
            "/m/new.onnx",
            True,
        ),
    ],
)
def test_deprecated_model_path_still_works_with_a_warning(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    environ: dict[str, str],
    expected: str,
    warned: bool,
) -> None:
    with caplog.at_level(logging.WARNING, logger="aios.agent.environment"):
        environment = read_environment(environ, warn=True)
    assert _config(tmp_path, environment.variables).model_path == Path(expected)
    assert ("AIOS_MODEL_PATH is deprecated" in caplog.text) is warned


def test_unknown_agent_variables_warn_and_do_not_fail(caplog: pytest.LogCaptureFixture) -> None:
    environ = {
        "AIOS_AGENT_MQTT_KEEPALIVE": "30",  # a typo
        "AIOS_AGENT_ENROLL_TOKEN": "t",  # a CLI option's variable
        "AIOS_DATABASE_URL": "x",  # the control plane's: not the agent's business
    }
    with caplog.at_level(logging.WARNING, logger="aios.agent.environment"):
        environment = read_environment(environ, warn=True)
    assert environment.cache_dir == AgentEnvironment().cache_dir
    assert [r.getMessage() for r in caplog.records] == [
        "AIOS_AGENT_MQTT_KEEPALIVE is not a setting and is ignored "
        "(did you mean AIOS_AGENT_MQTT_KEEPALIVE_S?)"
    ]


def test_process_settings_are_typed() -> None:
    environment = read_environment(
        {"AIOS_AGENT_CACHE_DIR": "~/c", "AIOS_AGENT_MANIFEST": "/m.json", "AIOS_AGENT_CONFIG": ""}
    )
    assert environment.cache_root == Path("~/c").expanduser()
    assert environment.models_dir == Path("~/c/models").expanduser()
    assert environment.manifest == Path("/m.json")
    assert environment.config is None


def test_the_environment_is_read_once_and_passed_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    (cache / "models").mkdir(parents=True)
    (cache / "models" / "yolov8n.onnx").write_bytes(b"onnx")
    monkeypatch.setenv("AIOS_AGENT_CACHE_DIR", str(cache))
    monkeypatch.setenv("AIOS_AGENT_MQTT_URL", "mqtt://first:1883")
    environment = from_process()
    # Changing the process's environment afterwards changes nothing already read...
    monkeypatch.setenv("AIOS_AGENT_CACHE_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("AIOS_AGENT_MQTT_URL", "mqtt://second:1883")
    assert resolve_model("yolov8n", env=environment, download=False) == (
        cache / "models" / "yolov8n.onnx"
    )
    assert _config(tmp_path, environment.variables).mqtt.host == "first"
    # ...and nothing below the CLI reads it on its own: no environment given, none used.
    assert build_config({**DEVICE, "state_dir": str(tmp_path)}).mqtt.host == "127.0.0.1"
    with pytest.raises(TypeError):
        resolve_model("yolov8n", download=False)  # type: ignore[call-arg]
