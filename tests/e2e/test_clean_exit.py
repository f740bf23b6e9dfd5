"""A stopped ``aios serve`` and a stopped ``aios-agent run`` exit cleanly: status 0 within a few
seconds of SIGINT (a terminal's Ctrl-C) or SIGTERM (systemd, Docker, Kubernetes), while busy:
the agent publishing detections, the ingest writing them, a live WebSocket subscriber open.

On SQLite with the embedded broker (the demo's setup), on SQLite through Mosquitto, and on
PostgreSQL. :func:`tests.e2e.processes.stop` fails the test when a process outlives its
deadline or exits with another status.
"""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from websockets.sync.client import ClientConnection, connect

from tests.e2e import processes as proc

pytestmark = pytest.mark.slow


def _agent_config(
    org_id: str, broker: str, protocol: str, video: Path, model: Path, tmp_path: Path, prefix: str
) -> dict[str, Any]:
    source = {"kind": "file", "uri": str(video), "loop": True}  # runs until stopped
    return {
        "device": {"org_id": org_id, "device_id": "gw-" + uuid.uuid4().hex[:8]},
        "mqtt": {"url": broker, "topic_prefix": prefix, "protocol": protocol},
        "heartbeat_interval_s": 1,
        "state_dir": str(tmp_path / "agent-state"),
        "model_path": str(model),
        "pipeline": {
            "name": "exit",
            "nodes": [
                {"id": "cam", "type": "source", "params": source},
                {"id": "det", "type": "detect", "params": {"every_n": 2}},
                {"id": "out", "type": "sink", "params": {"kind": "mqtt_detections"}},
            ],
            "edges": [{"source": "cam", "target": "det"}, {"source": "det", "target": "out"}],
        },
    }


def _wait_for_detections(base: str, auth: dict[str, str], device_id: str, agent_log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page = httpx.get(
            f"{base}/api/v1/dashboard/detections",
            params={"device_id": device_id, "limit": 1},
            headers=auth,
            timeout=10,
        )
        assert page.status_code == 200, page.text
        if page.json()["items"]:
            return
        time.sleep(0.5)
    pytest.fail(f"no detections reached the API:\n{proc.tail(agent_log)}")


@pytest.mark.parametrize(
    ("backend", "sig"),
    [
        ("sqlite+embedded", signal.SIGINT),
        ("sqlite+embedded", signal.SIGTERM),
        ("sqlite", signal.SIGTERM),
        ("postgres", signal.SIGINT),
        ("postgres", signal.SIGTERM),
    ],
    indirect=["backend"],
    ids=lambda value: value.name if isinstance(value, signal.Signals) else str(value),
)
def test_a_busy_control_plane_and_agent_exit_cleanly(
    backend: dict[str, str],
    sig: signal.Signals,
    tmp_path: Path,
    mqtt_url: str,
    topic_prefix: str,
    model_path: Path,
    testdata_dir: Path,
) -> None:
    settings = {**backend, "AIOS_MQTT_TOPIC_PREFIX": topic_prefix}
    embedded = settings["AIOS_MQTT_URL"] == "embedded"
    broker = f"mqtt://127.0.0.1:{settings['AIOS_EMBEDDED_MQTT_PORT']}" if embedded else mqtt_url
    video = proc.sample_video(tmp_path / "sample.mp4", testdata_dir)
    agent_log = tmp_path / "agent.log"
    port = proc.unused_port()
    ws: ClientConnection | None = None
    agent: subprocess.Popen[bytes] | None = None
    try:
        # Leaving this block stops the control plane and asserts its clean exit, with the
        # WebSocket subscriber connected and the agent still publishing.
        with proc.control_plane(settings, tmp_path / "controlplane.log", port, sig=sig) as base:
            org_id, auth = proc.register_operator(base)
            config = _agent_config(
                org_id,
                broker,
                "3.1.1" if embedded else "5",
                video,
                model_path,
                tmp_path,
                topic_prefix,
            )
            (tmp_path / "agent.yaml").write_text(yaml.safe_dump(config))
            agent = proc.start(
                [proc.BIN / "aios-agent", "run", "--config", tmp_path / "agent.yaml"], agent_log
            )
            _wait_for_detections(base, auth, config["device"]["device_id"], agent_log)
            token = auth["Authorization"].removeprefix("Bearer ")
            ws = connect(f"ws://127.0.0.1:{port}/api/v1/ws?token={token}", open_timeout=10)
            time.sleep(1)  # the hub polls for this subscriber
        proc.stop(agent, agent_log, sig=sig)
    finally:
        if ws is not None:
            ws.close()
        if agent is not None and agent.poll() is None:
            agent.kill()
            agent.wait()
