"""`aios-agent enroll`: against a real local HTTP server standing in for the control plane."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aios.agent.cli import app
from aios.agent.config import build_config
from aios.agent.credentials import load_credentials
from tests.agent.http_stub import http_stub

TOKEN = "aiosenr_SECRET-token-value"
PASSWORD = "aiosdev_SECRET-password"
ENROLLMENT = {
    "device_id": "dev-123",
    "org_id": "org-9",
    "mqtt": {
        "url": "mqtt://broker.example:1883",
        "username": "dev-123",
        "password": PASSWORD,
        "topic_prefix": "aios",
    },
    "added_later_by_a_newer_control_plane": True,
}


def enroll(url: str, state: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["enroll", url, "--token", TOKEN, "--state-dir", str(state), *extra]
    )
    return result.exit_code, result.output


def test_enroll_stores_credentials_0600_and_sends_hardware(tmp_path: Path, free_port: int) -> None:
    with http_stub(free_port, [(201, ENROLLMENT)]) as stub:
        code, output = enroll(stub.url, tmp_path / "state")
    assert code == 0, output
    assert TOKEN not in output
    assert PASSWORD not in output
    assert "dev-123" in output
    (request,) = stub.requests
    assert (request.method, request.path) == ("POST", "/api/v1/fleet/enroll")
    body = json.loads(request.body)
    assert body["token"] == TOKEN
    hardware = body["hardware"]
    assert hardware["hostname"]
    assert hardware["cpu_count"] >= 1
    assert hardware["memory_mb"] > 0
    assert hardware["arch"]
    assert hardware["os"]
    assert hardware["agent_version"]
    path = tmp_path / "state" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    creds = load_credentials(path)
    assert creds is not None
    assert (creds.device_id, creds.org_id, creds.mqtt.password) == ("dev-123", "org-9", PASSWORD)
    assert creds.control_plane_url == stub.url
    assert PASSWORD not in repr(creds)


def test_enroll_refuses_to_overwrite_without_force(tmp_path: Path, free_port: int) -> None:
    state = tmp_path / "state"
    second = {**ENROLLMENT, "device_id": "dev-456"}
    with http_stub(free_port, [(201, ENROLLMENT), (201, second)]) as stub:
        assert enroll(stub.url, state)[0] == 0
        code, output = enroll(stub.url, state)
        assert code == 1
        assert "--force" in output
        assert len(stub.requests) == 1  # refused before spending the token
        assert load_credentials(state / "credentials.json").device_id == "dev-123"  # type: ignore[union-attr]
        code, output = enroll(stub.url, state, "--force")
    assert code == 0, output
    creds = load_credentials(state / "credentials.json")
    assert creds is not None
    assert creds.device_id == "dev-456"
    assert stat.S_IMODE((state / "credentials.json").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("status", "expected"),
    [(401, "token is invalid"), (500, "HTTP 500")],
)
def test_enroll_failure_names_the_reason_and_writes_nothing(
    tmp_path: Path, free_port: int, status: int, expected: str
) -> None:
    with http_stub(free_port, [(status, {"detail": "invalid enrollment token"})]) as stub:
        code, output = enroll(stub.url, tmp_path / "state")
    assert code == 2
    assert expected in output
    assert TOKEN not in output
    assert not (tmp_path / "state" / "credentials.json").exists()


def test_unreachable_control_plane(tmp_path: Path, free_port: int) -> None:
    code, output = enroll(f"http://127.0.0.1:{free_port}", tmp_path / "state")
    assert code == 2
    assert "cannot reach" in output


def test_config_uses_stored_credentials(tmp_path: Path, free_port: int) -> None:
    state = tmp_path / "state"
    with http_stub(free_port, [(201, ENROLLMENT)]) as stub:
        assert enroll(stub.url, state)[0] == 0
    config = build_config({"state_dir": str(state)}, environ={})
    assert (config.device.org_id, config.device.device_id) == ("org-9", "dev-123")
    assert (config.mqtt.host, config.mqtt.port) == ("broker.example", 1883)
    assert (config.mqtt.username, config.mqtt.password) == ("dev-123", PASSWORD)
    assert config.control_plane_url == stub.url
    # What the config sets wins over the credentials.
    own = build_config({"state_dir": str(state), "mqtt": {"url": "mqtt://local:1884"}}, environ={})
    assert own.mqtt.port == 1884
    assert own.mqtt.username == "dev-123"


def test_config_without_device_or_credentials_says_to_enroll(tmp_path: Path) -> None:
    from aios.agent.errors import ConfigError

    with pytest.raises(ConfigError, match="aios-agent enroll"):
        build_config({"state_dir": str(tmp_path)}, environ={})


def test_credentials_readable_by_others_are_refused(tmp_path: Path, free_port: int) -> None:
    from aios.agent.errors import ConfigError

    with http_stub(free_port, [(201, ENROLLMENT)]) as stub:
        assert enroll(stub.url, tmp_path)[0] == 0
    (tmp_path / "credentials.json").chmod(0o644)
    with pytest.raises(ConfigError, match="readable by other users"):
        load_credentials(tmp_path / "credentials.json")
