"""``aios-agent doctor`` tests what ``aios-agent run`` does: the same config resolution (no
``--config`` on an enrolled device), the same broker login (client id, MQTT version, session
flags) and the same pipeline (the last good one when there is one). ``service install`` works
without ``--config`` too.

The broker here is a small socket server that checks the CONNECT the way the embedded broker,
Mosquitto's dynamic security and the EMQX hook do: the login is bound to the device's client id.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aios.agent.cli import app
from aios.agent.credentials import BrokerCredentials, DeviceCredentials, save_credentials
from aios.agent.pipeline.last_good import LastGoodStore
from aios.shared.messages import PipelineConfig
from aios.shared.pipeline import decode_pipeline
from tests.agent.videos import make_sample_video

ORG, DEVICE = "org-1", "dev-1"
CLIENT_ID = f"aios:{ORG}:{DEVICE}"


def _utf8(data: bytes, at: int) -> tuple[str, int]:
    (n,) = struct.unpack_from("!H", data, at)
    return data[at + 2 : at + 2 + n].decode(), at + 2 + n


def parse_connect(packet: bytes) -> dict[str, object]:
    """Protocol level, clean flag, session expiry (MQTT 5), client id and user name."""
    at, length, shift = 1, 0, 0
    while True:
        byte = packet[at]
        length |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            break
        shift += 7
    name, at = _utf8(packet, at)
    level, flags = packet[at], packet[at + 1]
    at += 4  # level, flags, keepalive
    expiry = None
    if level == 5:
        props_len = packet[at]
        props = packet[at + 1 : at + 1 + props_len]
        if props[:1] == b"\x11":
            (expiry,) = struct.unpack("!I", props[1:5])
        at += 1 + props_len
    client_id, at = _utf8(packet, at)
    username, at = _utf8(packet, at) if flags & 0x80 else (None, at)
    return {
        "name": name,
        "level": level,
        "clean": bool(flags & 0x02),
        "expiry": expiry,
        "client_id": client_id,
        "username": username,
    }


@pytest.fixture
def bound_broker(free_port: int) -> Iterator[tuple[int, list[dict[str, object]]]]:
    """Accepts a CONNECT only from the device's client id, speaking MQTT 5."""
    seen: list[dict[str, object]] = []
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", free_port))
    server.listen(4)
    server.settimeout(0.5)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                packet = conn.recv(4096)
                connect = parse_connect(packet)
                seen.append(connect)
                ok = connect["client_id"] == CLIENT_ID and connect["username"] == DEVICE
                if connect["level"] == 5:
                    conn.sendall(bytes([0x20, 0x03, 0x00, 0x00 if ok else 0x87, 0x00]))
                else:
                    conn.sendall(bytes([0x20, 0x02, 0x00, 0x00 if ok else 0x05]))
                if ok:
                    conn.recv(16)  # DISCONNECT

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield free_port, seen
    stop.set()
    thread.join(5)
    server.close()


def enroll(state: Path, port: int, protocol: str = "5") -> None:
    save_credentials(
        state / "credentials.json",
        DeviceCredentials(
            device_id=DEVICE,
            org_id=ORG,
            mqtt=BrokerCredentials(
                url=f"mqtt://127.0.0.1:{port}",
                username=DEVICE,
                password="device-password",
                topic_prefix="aios",
                protocol=protocol,  # type: ignore[arg-type]
            ),
            enrolled_at=time.time(),
        ),
    )


def save_last_good(state: Path, clip: Path, model: Path) -> None:
    spec = decode_pipeline(
        {
            "name": "remote",
            "nodes": [
                {"id": "lobby", "type": "source", "params": {"kind": "file", "uri": str(clip)}},
                {"id": "det", "type": "detect", "params": {"model": str(model)}},
                {"id": "out", "type": "sink", "params": {"kind": "mqtt_detections"}},
            ],
            "edges": [{"source": "lobby", "target": "det"}, {"source": "det", "target": "out"}],
        }
    )
    LastGoodStore.in_state_dir(state).save(
        PipelineConfig(pipeline_id="remote", version=4, spec=spec, issued_at=time.time())
    )


def doctor(env: dict[str, str], *args: str) -> tuple[int, dict[str, dict[str, str]]]:
    result = CliRunner().invoke(
        app, ["doctor", "--json", "--broker-timeout", "3", "--camera-timeout", "20", *args], env=env
    )
    if result.exit_code not in (0, 1):
        raise AssertionError(result.output)
    return result.exit_code, {r["name"]: r for r in json.loads(result.output)}


@pytest.mark.parametrize("with_config", [False, True], ids=["no-config", "state-dir-config"])
def test_doctor_on_an_enrolled_device_logs_in_as_run_does(
    with_config: bool,
    tmp_path: Path,
    bound_broker: tuple[int, list[dict[str, object]]],
    testdata_dir: Path,
    model_path: Path,
) -> None:
    port, seen = bound_broker
    state = tmp_path / "state"
    enroll(state, port)
    clip = make_sample_video(testdata_dir / "images", tmp_path / "clip.mp4", seconds=1.0)
    save_last_good(state, clip, model_path)

    if with_config:  # a config naming only the state dir: the rest comes from the enrollment
        config = tmp_path / "agent.yaml"
        config.write_text(f"state_dir: {state}\n")
        _, rows = doctor({}, "--config", str(config))
    else:  # no --config: the enrollment is the config, as for `aios-agent run`
        _, rows = doctor({"AIOS_AGENT_STATE_DIR": str(state)})
    assert rows["broker"]["level"] == "pass", rows["broker"]
    assert seen[-1]["client_id"] == CLIENT_ID
    assert seen[-1]["level"] == 5
    assert seen[-1]["clean"] is False  # the device's session (and its queued configs) survives
    assert int(str(seen[-1]["expiry"])) > 0
    # The pipeline run starts is the last good one: its camera is checked.
    assert rows["camera lobby"]["level"] == "pass", rows
    assert "cameras" not in rows
    assert rows["model"]["level"] == "pass", rows["model"]


def test_doctor_follows_the_configured_mqtt_version(
    tmp_path: Path, bound_broker: tuple[int, list[dict[str, object]]]
) -> None:
    port, seen = bound_broker
    state = tmp_path / "state"
    enroll(state, port, protocol="3.1.1")
    _, rows = doctor({"AIOS_AGENT_STATE_DIR": str(state)})
    assert rows["broker"]["level"] == "pass", rows["broker"]
    assert seen[-1]["level"] == 4
    assert rows["cameras"]["level"] == "warn"
    assert "no pipeline yet" in rows["cameras"]["detail"]


def test_doctor_names_a_refused_client_id(
    tmp_path: Path, bound_broker: tuple[int, list[dict[str, object]]]
) -> None:
    port, _ = bound_broker
    config = tmp_path / "agent.json"
    config.write_text(
        json.dumps(
            {
                "device": {"org_id": ORG, "device_id": "someone-else"},
                "state_dir": str(tmp_path / "state"),
                "mqtt": {"url": f"mqtt://127.0.0.1:{port}", "username": DEVICE, "password": "x"},
            }
        )
    )
    code, rows = doctor({}, "--config", str(config))
    assert code == 1
    assert rows["broker"]["level"] == "fail"
    assert "not authorized" in rows["broker"]["detail"]


def test_doctor_without_config_or_enrollment_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["doctor"], env={"AIOS_AGENT_STATE_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert "not enrolled" in result.output
    assert "aios-agent enroll" in result.output


def test_service_install_without_config_on_an_enrolled_device(tmp_path: Path) -> None:
    state = tmp_path / "state"
    enroll(state, 1883)
    result = CliRunner().invoke(
        app,
        ["service", "install", "--dry-run", "--user", "--unit-dir", str(tmp_path / "units")],
        env={"AIOS_AGENT_STATE_DIR": str(state)},
    )
    assert result.exit_code == 0, result.output
    exec_start = next(line for line in result.output.splitlines() if line.startswith("ExecStart="))
    assert exec_start.endswith(" run")  # no --config: the unit runs on the enrollment
    assert f"Environment=AIOS_AGENT_STATE_DIR={state.resolve()}" in result.output
