"""Over-the-air pipeline deployment with real processes: ``aios serve`` on PostgreSQL and the
system Mosquitto, and an ``aios-agent`` enrolled through the API that starts with no pipeline.

An operator creates a pipeline and executes it for the device; the agent applies it from its
retained ``cfg/desired`` and reports back, the deployment shows the device ``applied``, and the
device's detections come through the dashboard API. A broken version (its video file does not
exist: valid, but fails at start) is rolled back by the agent to the running version, whose
detections keep arriving. An invalid spec never reaches a device: the API refuses it with 422
naming the node and the field.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import paho.mqtt.client as paho
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from aios.shared.topics import Channel, build_topic
from tests.e2e.conftest import FAILED
from tests.e2e.processes import (
    BIN,
    control_plane,
    register_operator,
    sample_video,
    start,
    stop,
    tail,
)

GRACE_S = 3.0
"""The agent's grace period: a new pipeline that runs this long is reported ``applied``."""
REPORT_TIMEOUT_S = 60.0
DETECTIONS_TIMEOUT_S = 45.0


@dataclass
class Stack:
    base: str
    auth: dict[str, str]
    logs: dict[str, Path]
    agent: subprocess.Popen[bytes] | None = None
    device_id: str = ""
    cleanup: list[str] = field(default_factory=list)
    """Retained topics to clear after the test."""

    def logs_text(self) -> str:
        return "\n".join(
            f"----- {name} log -----\n{tail(path)}" for name, path in self.logs.items()
        )

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.base}{path}", params=params, headers=self.auth, timeout=15)
        assert response.status_code == 200, f"GET {path}: {response.text}"
        return response.json()

    def post(self, path: str, body: dict[str, Any], expect: int = 201) -> Any:
        response = httpx.post(f"{self.base}{path}", json=body, headers=self.auth, timeout=30)
        assert response.status_code == expect, f"POST {path}: {response.text}"
        return response.json()

    def patch(self, path: str, body: dict[str, Any], expect: int = 200) -> Any:
        response = httpx.patch(f"{self.base}{path}", json=body, headers=self.auth, timeout=30)
        assert response.status_code == expect, f"PATCH {path}: {response.text}"
        return response.json()

    def agent_alive(self) -> None:
        assert self.agent is not None
        if self.agent.poll() is not None:
            pytest.fail(f"the agent exited with {self.agent.returncode}:\n{self.logs_text()}")


@pytest.fixture
def stack(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    pg_sqlalchemy_url: str,
    mqtt_url: str,
    topic_prefix: str,
    free_port: int,
) -> Iterator[Stack]:
    settings = {
        "AIOS_DATABASE_URL": pg_sqlalchemy_url,
        "AIOS_MQTT_URL": mqtt_url,
        "AIOS_MQTT_TOPIC_PREFIX": topic_prefix,
        "AIOS_MQTT_CLIENT_ID": "e2e-ota-" + uuid.uuid4().hex[:8],
        "AIOS_DATA_DIR": str(tmp_path / "cp"),
        "AIOS_SECRET_KEY": "e2e-" + uuid.uuid4().hex,
        "AIOS_LOG_LEVEL": "INFO",
        "AIOS_REGISTRATION": "open",  # the session database has other tests' users
    }
    log = tmp_path / "controlplane.log"
    with control_plane(settings, log, free_port) as base:
        _, auth = register_operator(base)
        s = Stack(base=base, auth=auth, logs={"control plane": log})
        try:
            yield s
        finally:
            if s.agent is not None:
                stop(s.agent)
            if request.node.stash.get(FAILED, False):
                print(s.logs_text())
            _clear_retained(mqtt_url, s.cleanup)


def _clear_retained(mqtt_url: str, topics: list[str]) -> None:
    """Delete retained messages (the desired configs would outlive the test in the broker)."""
    if not topics:
        return
    parts = urlsplit(mqtt_url)
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    client.loop_start()
    try:
        for topic in topics:
            client.publish(topic, b"", qos=1, retain=True).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def _spec(source_id: str, uri: str) -> dict[str, Any]:
    return {
        "name": "lobby",
        "nodes": [
            {
                "id": source_id,
                "type": "source",
                "params": {"kind": "file", "uri": uri, "loop": True},
            },
            {"id": "det", "type": "detect", "params": {"every_n": 3}},
            {"id": "out", "type": "sink", "params": {"kind": "mqtt_detections"}},
        ],
        "edges": [{"source": source_id, "target": "det"}, {"source": "det", "target": "out"}],
    }


def _enroll(s: Stack, state_dir: Path) -> dict[str, Any]:
    """Issue a single-use token through the API and enroll with ``aios-agent enroll``."""
    issued = s.post("/api/v1/fleet/enrollment-tokens", {"name": "e2e-ota", "max_uses": 1})
    log = state_dir.parent / "enroll.log"
    s.logs["enroll"] = log
    with log.open("wb") as out:
        done = subprocess.run(
            [BIN / "aios-agent", "enroll", s.base, "--state-dir", str(state_dir), "--name", "gw"],
            env={**os.environ, "AIOS_AGENT_ENROLL_TOKEN": issued["token"]},
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=60,
        )
    assert done.returncode == 0, tail(log)
    credentials_file = state_dir / "credentials.json"
    assert credentials_file.stat().st_mode & 0o777 == 0o600
    credentials: dict[str, Any] = json.loads(credentials_file.read_text())
    assert issued["token"] not in log.read_text()
    return credentials


def _enrolled_agent(s: Stack, tmp_path: Path, model_path: Path) -> None:
    """Enroll a device through the API and run ``aios-agent`` for it, with no pipeline (it
    waits for one from the control plane) and a short grace period; until it is online."""
    state_dir = tmp_path / "agent-state"
    credentials = _enroll(s, state_dir)
    s.device_id = credentials["device_id"]
    config = {
        "state_dir": str(state_dir),
        "model_path": str(model_path),
        "heartbeat_interval_s": 2,
        "apply": {"enabled": True, "grace_s": GRACE_S, "start_timeout_s": 20},
    }
    config_path = tmp_path / "agent.yaml"
    config_path.write_text(yaml.safe_dump(config))
    s.logs["agent"] = tmp_path / "agent.log"
    s.agent = start([BIN / "aios-agent", "run", "--config", str(config_path)], s.logs["agent"])
    prefix = credentials["mqtt"]["topic_prefix"]
    s.cleanup.append(
        build_topic(credentials["org_id"], s.device_id, Channel.CONFIG_DESIRED, prefix=prefix)
    )
    _wait_online(s)


def _wait_online(s: Stack, timeout: float = 30) -> None:
    """Until the fleet shows the device online: the agent logged in with what it enrolled."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s.agent_alive()
        if s.get(f"/api/v1/fleet/{s.device_id}")["status"] == "online":
            return
        time.sleep(0.5)
    pytest.fail(f"the device is not online after {timeout:g} s:\n{s.logs_text()}")


OPEN = ("pending", "applying")


def _wait_report(s: Stack, pipeline_id: str, deployment_id: str) -> dict[str, Any]:
    """The device's target once it has ended (the device's final report)."""
    deadline = time.monotonic() + REPORT_TIMEOUT_S
    while time.monotonic() < deadline:
        s.agent_alive()
        deployment = s.get(f"/api/v1/pipelines/{pipeline_id}/deployments/{deployment_id}")
        (target,) = deployment["targets"]
        assert target["device_id"] == s.device_id
        if target["status"] not in OPEN:
            return dict(target)
        time.sleep(0.5)
    pytest.fail(f"no report from the device in {REPORT_TIMEOUT_S:g} s:\n{s.logs_text()}")


def _wait_detections(s: Stack, stream_id: str, since: float) -> list[dict[str, Any]]:
    """Person detections of ``stream_id`` stamped at or after ``since`` (Unix seconds)."""
    deadline = time.monotonic() + DETECTIONS_TIMEOUT_S
    while time.monotonic() < deadline:
        s.agent_alive()
        page = s.get(
            "/api/v1/dashboard/detections",
            device_id=s.device_id,
            since=f"{since:.3f}",
            label="person",
            limit=500,
        )
        items = [i for i in page["items"] if i["stream_id"] == stream_id]
        if len(items) >= 5:
            return items
        time.sleep(0.5)
    pytest.fail(
        f"no detections of stream {stream_id!r} since {since:.3f} in {DETECTIONS_TIMEOUT_S:g} s:"
        f"\n{s.logs_text()}"
    )


async def _batch_versions(pg_database: str, device_id: str, stream_id: str) -> dict[int, int]:
    """Stored detection batches of ``stream_id`` by the pipeline version they were made by
    (the dashboard API does not expose the version of a detection)."""
    conn = await asyncpg.connect(pg_database)
    try:
        rows = await conn.fetch(
            "SELECT pipeline_version, count(*) AS n FROM detection_batches"
            " WHERE device_id = $1 AND stream_id = $2 GROUP BY pipeline_version",
            device_id,
            stream_id,
        )
    finally:
        await conn.close()
    return {int(r["pipeline_version"]): int(r["n"]) for r in rows}


@pytest.mark.slow
def test_pipeline_deploys_over_the_air_and_a_broken_version_rolls_back(
    stack: Stack,
    tmp_path: Path,
    model_path: Path,
    testdata_dir: Path,
    pg_database: str,
) -> None:
    s = stack
    video = sample_video(tmp_path / "lobby.mp4", testdata_dir)

    # The device enrolls the real way: its identity and broker login come from the API.
    # The agent starts with no pipeline: it waits for one from the control plane.
    _enrolled_agent(s, tmp_path, model_path)
    device = s.get(f"/api/v1/fleet/{s.device_id}")
    assert device["name"] == "gw"

    # Version 1: created and executed through the API, applied by the device.
    pipeline = s.post("/api/v1/pipelines", {"name": "lobby", "spec": _spec("lobby", str(video))})
    pipeline_id = pipeline["id"]
    assert pipeline["current_version"] == 1
    deployed = s.post(f"/api/v1/pipelines/{pipeline_id}/execute", {"device_ids": [s.device_id]})
    assert deployed["version"] == 1
    assert [t["status"] for t in deployed["targets"]] == ["pending"]
    target = _wait_report(s, pipeline_id, deployed["id"])
    assert target["status"] == "applied", (target, s.logs_text())
    assert target["active_version"] == 1
    assert target["error"] is None

    # Its detections reach the dashboard: stream "lobby" exists only in the deployed pipeline.
    first = _wait_detections(s, "lobby", since=0)
    assert {i["device_id"] for i in first} == {s.device_id}
    versions = asyncio.run(_batch_versions(pg_database, s.device_id, "lobby"))
    assert set(versions) == {1}, versions

    # Version 2 is valid but broken (its video does not exist): it fails at start, and the
    # agent goes back to version 1 and says so.
    missing = tmp_path / "gone.mp4"
    updated = s.patch(f"/api/v1/pipelines/{pipeline_id}", {"spec": _spec("broken", str(missing))})
    assert updated["current_version"] == 2
    deployed = s.post(f"/api/v1/pipelines/{pipeline_id}/execute", {"device_ids": [s.device_id]})
    assert deployed["version"] == 2
    target = _wait_report(s, pipeline_id, deployed["id"])
    assert target["status"] == "rolled_back", (target, s.logs_text())
    assert target["active_version"] == 1
    assert str(missing) in (target["error"] or ""), target
    rolled_back_at = time.time()

    # Version 1 runs again: fresh detections of its stream arrive, none from version 2.
    after = _wait_detections(s, "lobby", since=rolled_back_at)
    assert all(i["stream_id"] == "lobby" for i in after)
    assert asyncio.run(_batch_versions(pg_database, s.device_id, "broken")) == {}
    assert set(asyncio.run(_batch_versions(pg_database, s.device_id, "lobby"))) == {1}

    # An invalid spec never reaches a device: 422 naming the node and the field, no version.
    bad = _spec("lobby", str(video))
    bad["nodes"][1]["params"]["every_n"] = 0
    refused = s.patch(f"/api/v1/pipelines/{pipeline_id}", {"spec": bad}, expect=422)
    assert refused["node"] == "det", refused
    assert refused["field"] == "params.every_n", refused
    refused = s.post("/api/v1/pipelines", {"name": "bad", "spec": bad}, expect=422)
    assert (refused["node"], refused["field"]) == ("det", "params.every_n"), refused
    versions_listed = s.get(f"/api/v1/pipelines/{pipeline_id}/versions")
    assert sorted(v["version"] for v in versions_listed) == [1, 2]
    s.agent_alive()


@pytest.mark.slow
def test_rollbacks_redeploys_and_a_missing_model_all_end(
    stack: Stack, tmp_path: Path, model_path: Path, testdata_dir: Path
) -> None:
    """Every deployment reaches a final state: a rollback to a version the agent ran before,
    the running version sent again, and a version naming a model the device does not have
    (failed, saying so, although the device's model_path is set)."""
    s = stack
    video = sample_video(tmp_path / "lobby.mp4", testdata_dir)
    _enrolled_agent(s, tmp_path, model_path)

    pipeline = s.post("/api/v1/pipelines", {"name": "lobby", "spec": _spec("lobby", str(video))})
    pipeline_id = pipeline["id"]
    second = _spec("lobby", str(video))
    second["nodes"][1]["params"]["every_n"] = 4
    assert s.patch(f"/api/v1/pipelines/{pipeline_id}", {"spec": second})["current_version"] == 2

    def deploy(version: int) -> dict[str, Any]:
        deployed = s.post(
            f"/api/v1/pipelines/{pipeline_id}/execute",
            {"device_ids": [s.device_id], "version": version},
        )
        return _wait_report(s, pipeline_id, deployed["id"])

    # v1, v2, then a rollback to v1 and v1 again: each one applied, none left pending.
    for version in (1, 2, 1, 1):
        target = deploy(version)
        assert (target["status"], target["active_version"]) == ("applied", version), (
            target,
            s.logs_text(),
        )

    # A version naming a model the device does not have: failed with the reason, v1 runs on.
    missing = _spec("lobby", str(video))
    missing["nodes"][1]["params"]["model"] = str(tmp_path / "no-such-model.onnx")
    assert s.patch(f"/api/v1/pipelines/{pipeline_id}", {"spec": missing})["current_version"] == 3
    target = deploy(3)
    assert target["status"] == "failed", (target, s.logs_text())
    assert "no-such-model.onnx" in (target["error"] or ""), target
    assert target["active_version"] == 1

    listed = s.get(f"/api/v1/pipelines/{pipeline_id}/deployments")
    assert len(listed) == 5
    assert all(set(d["counts"]) <= {"applied", "failed"} for d in listed), listed
    s.agent_alive()
