"""Agent config files: formats, env overrides, and errors that name the field and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from aios.agent.config import load_config
from aios.agent.errors import ConfigError

PIPELINE = """
pipeline:
  name: p
  nodes:
    - {id: cam1, type: source, params: {kind: file, uri: v.mp4}}
    - {id: det, type: detect}
    - {id: out, type: sink, params: {kind: mqtt_detections}}
  edges: [{source: cam1, target: det}, {source: det, target: out}]
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_yaml_config_with_defaults_and_relative_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path, "a.yaml", "device: {org_id: o, device_id: d}\nstate_dir: st\n" + PIPELINE
    )
    config = load_config(path, environ={})
    assert config.mqtt.port == 1883
    assert config.heartbeat_interval_s == 10
    assert config.state_dir == tmp_path / "st"
    assert config.spool_path == tmp_path / "st" / "spool.sqlite"
    assert config.pipeline is not None
    assert [n.id for n in config.pipeline.nodes] == ["cam1", "det", "out"]


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        (
            "a.yaml",
            "device: {org_id: o, device_id: d}\nheartbeat_intervall_s: 3\n",
            "heartbeat_intervall_s",
        ),
        ("a.yaml", "device: {org_id: o, device_id: d}\nmqtt: {url: http://x}\n", "mqtt.url"),
        ("a.toml", "[device]\norg_id = 'o'\ndevice_id = 'bad id'\n", "device.device_id"),
        ("a.json", '{"device": {"org_id": "o"}}', "device_id"),
        ("a.yaml", "device: [", "not valid yaml"),
        ("a.ini", "x", "unknown config format"),
        (
            "a.yaml",
            "device: {org_id: o, device_id: d}\n"
            + PIPELINE.replace("type: detect}", "type: detect, params: {conf: 2}}"),
            "node 'det', field 'params.conf'",
        ),
    ],
)
def test_bad_config_fails_naming_the_field_and_the_file(
    tmp_path: Path, name: str, text: str, match: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ConfigError, match=match) as info:
        load_config(path, environ={})
    assert str(path) in str(info.value)


def test_env_overrides_and_secret_files(tmp_path: Path) -> None:
    secret = write(tmp_path, "pw", "s3cret\n")
    path = write(tmp_path, "a.yaml", "device: {org_id: o, device_id: d}\n")
    config = load_config(
        path,
        environ={
            "AIOS_AGENT_MQTT_URL": "mqtts://broker.example:8884",
            "AIOS_AGENT_DEVICE_ID": "other",
            "AIOS_AGENT_HEARTBEAT_INTERVAL_S": "2.5",
            "AIOS_AGENT_MQTT_PASSWORD_FILE": str(secret),
        },
    )
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.uses_tls) == (
        "broker.example",
        8884,
        True,
    )
    assert config.device.device_id == "other"
    assert config.heartbeat_interval_s == 2.5
    assert config.mqtt.password == "s3cret"
