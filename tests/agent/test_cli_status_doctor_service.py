"""`aios-agent status`, `doctor` (real Mosquitto, a dead port) and `service install --dry-run`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from aios.agent.cli import app
from aios.agent.config import MqttSettings
from aios.agent.credentials import BrokerCredentials, DeviceCredentials, save_credentials
from aios.agent.health_checks import check_broker, check_clock
from aios.agent.pipeline.last_good import LastGoodStore
from aios.agent.transport.spool import Priority, Spool
from aios.shared.messages import PipelineConfig
from aios.shared.pipeline import decode_pipeline
from tests.agent.http_stub import http_stub
from tests.agent.videos import make_sample_video

PIPELINE = {
    "name": "doctor-test",
    "nodes": [
        {"id": "cam", "type": "source", "params": {"kind": "file", "uri": "clip.mp4"}},
        {"id": "det", "type": "detect"},
        {"id": "out", "type": "sink", "params": {"kind": "mqtt_detections"}},
    ],
    "edges": [{"source": "cam", "target": "det"}, {"source": "det", "target": "out"}],
}


def write_config(tmp_path: Path, mqtt_url: str, model: Path, **extra: object) -> Path:
    data = {
        "device": {"org_id": "o", "device_id": "d"},
        "state_dir": str(tmp_path / "state"),
        "mqtt": {"url": mqtt_url},
        "model_path": str(model),
        "pipeline": PIPELINE,
        **extra,
    }
    path = tmp_path / "agent.json"
    path.write_text(json.dumps(data))
    return path


def test_status_reports_identity_pipeline_spool_and_seq(tmp_path: Path) -> None:
    state = tmp_path / "state"
    save_credentials(
        state / "credentials.json",
        DeviceCredentials(
            device_id="dev-1",
            org_id="org-1",
            mqtt=BrokerCredentials(
                url="mqtt://b:1883", username="dev-1", password="pw-SECRET", topic_prefix="aios"
            ),
        ),
    )
    spec = decode_pipeline(PIPELINE)
    LastGoodStore(state / "last_good_pipeline.json").save(
        PipelineConfig(pipeline_id="lobby", version=7, spec=spec, issued_at=time.time())
    )
    spool = Spool(state / "spool.sqlite", max_bytes=64 * 1024)
    for seq in range(40):  # 40 x 4 KiB into 64 KiB: the oldest detection batches are dropped
        spool.put("t", b"x" * 4096, qos=1, priority=Priority.DETECTIONS, seq=seq)
    spool.close()
    (state / "seq").write_text("40")

    result = CliRunner().invoke(app, ["status", "--state-dir", str(state), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["device_id"], data["org_id"], data["enrolled"]) == ("dev-1", "org-1", True)
    assert (data["pipeline_id"], data["pipeline_version"]) == ("lobby", 7)
    assert data["next_seq"] == 40
    assert 0 < data["spool"]["depth"] < 40
    assert data["spool"]["dropped_detections"] == 40 - data["spool"]["depth"]
    assert data["spool"]["max_seq"] == 39
    assert "pw-SECRET" not in result.output

    table = CliRunner().invoke(app, ["status", "--state-dir", str(state)])
    assert table.exit_code == 0
    assert "lobby v7" in table.output
    assert "dev-1" in table.output


def test_status_of_an_empty_state_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["status", "--state-dir", str(tmp_path), "--json"])
    data = json.loads(result.output)
    assert data["enrolled"] is False
    assert data["spool"] is None
    assert data["pipeline_version"] is None
    assert not (tmp_path / "spool.sqlite").exists()  # status never creates the spool


def test_doctor_passes_against_the_real_broker(
    tmp_path: Path, mqtt_url: str, model_path: Path, testdata_dir: Path
) -> None:
    make_sample_video(testdata_dir / "images", tmp_path / "clip.mp4", seconds=1.0)
    config = write_config(tmp_path, mqtt_url, model_path)
    result = CliRunner().invoke(app, ["doctor", "--config", str(config), "--json"])
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert result.exit_code == 0, result.output
    assert rows["broker"]["level"] == "pass"
    assert "CONNACK accepted" in rows["broker"]["detail"]
    assert rows["model"]["level"] == "pass"
    assert "80 classes" in rows["model"]["detail"]
    assert rows["camera cam"]["level"] == "pass"
    assert "640x480" in rows["camera cam"]["detail"]
    assert rows["providers"]["level"] == "pass"
    assert "cpu" in rows["providers"]["detail"]
    assert rows["disk"]["level"] in ("pass", "warn")
    assert rows["clock"]["level"] == "warn"  # no control plane configured


def test_doctor_fails_on_a_dead_broker_and_a_missing_camera(
    tmp_path: Path, free_port: int, model_path: Path
) -> None:
    config = write_config(tmp_path, f"mqtt://127.0.0.1:{free_port}", model_path)
    result = CliRunner().invoke(app, ["doctor", "--config", str(config), "--broker-timeout", "2"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.startswith("FAIL") and "broker" in line for line in lines), result.output
    assert any(line.startswith("FAIL") and "camera cam" in line for line in lines)
    assert any(line.startswith("PASS") and "model" in line for line in lines)


def test_broker_probe_reports_refused_login(free_port: int) -> None:
    # A fake MQTT 3.1.1 broker that answers CONNACK "bad user name or password".
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", free_port))
    server.listen(1)

    def answer() -> None:
        conn, _ = server.accept()
        conn.recv(1024)
        conn.sendall(bytes([0x20, 0x02, 0x00, 0x04]))
        conn.close()

    threading.Thread(target=answer, daemon=True).start()
    try:
        result = check_broker(
            MqttSettings(url=f"mqtt://127.0.0.1:{free_port}", username="u", protocol="3.1.1")
        )
    finally:
        server.close()
    assert result.level == "fail"
    assert "bad user name or password" in result.detail


@pytest.mark.parametrize(("offset", "level"), [(0.0, "pass"), (10.0, "warn"), (-120.0, "fail")])
def test_clock_skew_against_the_http_date(free_port: int, offset: float, level: str) -> None:
    with http_stub(free_port, [(404, {})]) as stub:
        result = check_clock(stub.url, now=lambda: time.time() + offset)
    assert result.level == level, result.detail


def _service_install(tmp_path: Path, flag: str) -> tuple[Path, Path, Result]:
    """``service install`` of a minimal config (state in ``tmp_path/st``) into
    ``tmp_path/units`` with ``flag``: the config, the unit folder and the CLI's result."""
    config = tmp_path / "agent.yaml"
    config.write_text(f"device: {{org_id: o, device_id: d}}\nstate_dir: {tmp_path / 'st'}\n")
    unit_dir = tmp_path / "units"
    result = CliRunner().invoke(
        app, ["service", "install", "--config", str(config), flag, "--unit-dir", str(unit_dir)]
    )
    assert result.exit_code == 0, result.output
    return config, unit_dir, result


def test_service_install_dry_run_prints_the_unit_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    monkeypatch.setattr("subprocess.run", lambda *a, **k: calls.append(a))
    config, unit_dir, result = _service_install(tmp_path, "--dry-run")
    out = result.output
    assert f"run --config {config.resolve()}" in out
    for line in (
        "Restart=always",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        f"ReadWritePaths={tmp_path / 'st'}",
        "WantedBy=multi-user.target",
    ):
        assert line in out, line
    assert not unit_dir.exists()
    assert not (tmp_path / "st").exists()
    assert calls == []


def test_service_install_user_unit_writes_the_file(tmp_path: Path) -> None:
    _, unit_dir, result = _service_install(tmp_path, "--user")
    text = (unit_dir / "aios-agent.service").read_text()
    assert "WantedBy=default.target" in text
    assert "SupplementaryGroups" not in text
    assert "systemctl" in result.output  # told how to enable it, did not run it
