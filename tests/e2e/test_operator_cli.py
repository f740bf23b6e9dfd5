"""The operator CLI against a real ``aios serve``: the first owner straight into the database,
``aios login`` (tokens stored 0600 in the config folder), then users, devices, enrollment tokens
and ``pipelines deploy`` through the REST API, each as a real ``aios`` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.e2e.processes import control_plane

BIN = Path(sys.executable).parent
PASSWORD = "operator password 123"


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(BIN / "aios"), *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if ok:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    def json(self, *args: str) -> object:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Cli, Path]]:
    from tests.e2e.processes import unused_port

    tmp = tmp_path_factory.mktemp("operator")
    settings = {
        "AIOS_DATA_DIR": str(tmp / "data"),
        "AIOS_SECRET_KEY": "operator-cli-test-key-0123456789abcdef",
        "AIOS_MQTT_URL": "embedded",
        "AIOS_EMBEDDED_MQTT_PORT": str(unused_port()),
        "AIOS_LOG_LEVEL": "INFO",  # the access log is on
        "AIOS_REGISTRATION": "open",  # a second organization registers through the API
    }
    env = {**settings, "XDG_CONFIG_HOME": str(tmp / "config")}
    with control_plane(settings, tmp / "aios.log", unused_port()) as base:
        yield base, Cli(env), tmp / "aios.log"


def test_operator_workflow(stack: tuple[str, Cli, Path], tmp_path: Path) -> None:
    base, aios, _ = stack
    created = aios(
        "users", "create-owner", "--email", "owner@example.com", "--organization", "Acme",
        "--password", PASSWORD,
    )  # fmt: skip
    assert "created organization" in created.stdout
    again = aios(
        "users", "create-owner", "--email", "owner@example.com", "--organization", "Acme",
        "--password", PASSWORD, ok=False,
    )  # fmt: skip
    assert again.returncode == 2
    assert "Traceback" not in again.stderr
    assert "exists" in again.stderr

    # Not logged in yet: one line that says what to do.
    refused = aios("devices", "list", "--url", base, ok=False)
    assert refused.returncode == 2
    assert f"aios login {base}" in refused.stderr

    logged = aios("login", base, "--email", "owner@example.com", "--password", PASSWORD)
    assert "logged in" in logged.stdout
    stored = Path(aios.env["XDG_CONFIG_HOME"]) / "aios" / "login.json"
    assert stored.stat().st_mode & 0o777 == 0o600
    assert PASSWORD not in stored.read_text()

    users = aios.json("users", "list")
    assert [u["email"] for u in users["items"]] == ["owner@example.com"]  # type: ignore[index]
    aios("users", "add", "viewer@example.com", "--name", "Vi", "--password", PASSWORD)
    table = aios("users", "list").stdout
    assert "viewer@example.com" in table
    assert "viewer" in table

    token = aios("tokens", "create", "--name", "lobby", "--max-uses", "2").stdout.strip()
    assert len(token) > 20
    tokens = aios.json("tokens", "list")
    assert [t["name"] for t in tokens["items"]] == ["lobby"]  # type: ignore[index]
    assert token not in aios("tokens", "list").stdout

    device = aios.json("devices", "add", "gate-1", "--tag", "entrance")
    device_id = device["id"]  # type: ignore[index]
    assert device_id in aios("devices", "list").stdout

    spec_file = tmp_path / "pipeline.yaml"
    spec_file.write_text((ROOT / "agent" / "examples" / "pipeline.yaml").read_text())
    deployed = aios("pipelines", "deploy", str(spec_file), "--device", device_id)
    assert "deployed demo v1" in deployed.stdout
    again_deployed = aios("pipelines", "deploy", str(spec_file), "--tag", "entrance")
    assert "deployed demo v2" in again_deployed.stdout  # a new version of the same pipeline
    pipelines = aios.json("pipelines", "list")
    assert [(p["name"], p["current_version"]) for p in pipelines["items"]] == [("demo", 2)]  # type: ignore[index]

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "x", "nodes": [{"id": "a", "type": "nope"}]}))
    rejected = aios("pipelines", "deploy", str(bad), "--device", device_id, ok=False)
    assert rejected.returncode == 2
    assert rejected.stderr.startswith("error: POST /api/v1/pipelines: 4")

    # A token that expired is refreshed from the stored refresh token.
    data = json.loads(stored.read_text())
    data["access_token"] = "expired.or.garbage"
    stored.write_text(json.dumps(data))
    assert device_id in aios("devices", "list").stdout
    assert json.loads(stored.read_text())["access_token"] != "expired.or.garbage"

    aios("logout")
    assert not stored.exists()


def test_the_server_log_never_shows_a_token(stack: tuple[str, Cli, Path]) -> None:
    """The WebSocket takes its JWT in the URL; uvicorn logs URLs with their query strings."""
    import time

    import httpx
    from websockets.sync.client import connect

    base, _, log = stack
    body = {
        "email": "ws@example.com",
        "password": PASSWORD,
        "full_name": "Ws",
        "organization_name": "Ws",
    }
    assert httpx.post(f"{base}/api/v1/auth/register", json=body, timeout=30).status_code == 202
    login = httpx.post(
        f"{base}/api/v1/auth/login", json={"email": body["email"], "password": PASSWORD}, timeout=30
    )
    token = login.json()["access_token"]
    with connect(f"{base.replace('http', 'ws', 1)}/api/v1/ws?token={token}", open_timeout=30):
        time.sleep(0.5)
    httpx.get(f"{base}/health?token={token}", timeout=30)
    time.sleep(1)  # the log lines are written as the requests end
    text = log.read_text(errors="replace")
    assert "/api/v1/ws?token=[redacted]" in text
    assert "/health?token=[redacted]" in text
    assert token not in text
    assert token.split(".")[2] not in text  # not even the signature
