"""The whole path, with real processes: a sample video -> ``aios-agent run`` (YOLOv8 on ONNX
Runtime) -> MQTT -> ``aios serve`` ingest -> database -> ``GET /api/v1/dashboard/detections``.

Runs on PostgreSQL and on SQLite through the system Mosquitto, and on SQLite through the
broker embedded in ``aios serve`` (the demo's setup). The persons of the first frame must come
back through the API where Ultralytics' own reference puts them.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from scripts.sample_video import first_frame_transform

from tests.e2e.processes import (
    BIN,
    VIDEO_SIZE,
    control_plane,
    register_operator,
    sample_video,
    tail,
)


def _iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory, testdata_dir: Path) -> Path:
    return sample_video(tmp_path_factory.mktemp("video") / "sample.mp4", testdata_dir)


@pytest.fixture
def server(
    backend: dict[str, str], tmp_path: Path, topic_prefix: str, free_port: int
) -> Iterator[tuple[str, dict[str, str]]]:
    settings = {**backend, "AIOS_MQTT_TOPIC_PREFIX": topic_prefix}
    with control_plane(settings, tmp_path / "controlplane.log", free_port) as base:
        yield base, backend


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgres", "sqlite", "sqlite+embedded"], indirect=True)
def test_detections_flow_from_camera_to_api(
    server: tuple[str, dict[str, str]],
    video: Path,
    model_path: Path,
    testdata_dir: Path,
    tmp_path: Path,
    topic_prefix: str,
    mqtt_url: str,
) -> None:
    base, backend = server
    broker = (
        f"mqtt://127.0.0.1:{backend['AIOS_EMBEDDED_MQTT_PORT']}"
        if backend["AIOS_MQTT_URL"] == "embedded"
        else mqtt_url
    )
    org_id, auth = register_operator(base)
    device_id = "gw-" + uuid.uuid4().hex[:8]
    config: dict[str, Any] = {
        "device": {"org_id": org_id, "device_id": device_id},
        "mqtt": {
            "url": broker,
            "topic_prefix": topic_prefix,
            "protocol": "3.1.1" if backend["AIOS_MQTT_URL"] == "embedded" else "5",
        },
        "heartbeat_interval_s": 2,
        "state_dir": str(tmp_path / "agent-state"),
        "model_path": str(model_path),
        "pipeline": {
            "name": "e2e",
            "nodes": [
                {
                    "id": "cam",
                    "type": "source",
                    "params": {"kind": "file", "uri": str(video)},
                },
                {"id": "det", "type": "detect", "params": {"every_n": 2}},
                {"id": "out", "type": "sink", "params": {"kind": "mqtt_detections"}},
            ],
            "edges": [{"source": "cam", "target": "det"}, {"source": "det", "target": "out"}],
        },
    }
    config_path = tmp_path / "agent.yaml"
    config_path.write_text(yaml.safe_dump(config))
    log = tmp_path / "agent.log"
    with log.open("wb") as out:
        agent = subprocess.run(
            [BIN / "aios-agent", "run", "--config", str(config_path), "--duration", "25"],
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=120,
        )
    assert agent.returncode == 0, tail(log)

    items: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page = httpx.get(
            f"{base}/api/v1/dashboard/detections",
            params={"device_id": device_id, "label": "person", "limit": 1000},
            headers=auth,
            timeout=10,
        )
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        if len(items) >= 10:
            break
        time.sleep(0.5)
    assert items, f"no person detections reached the API; agent log:\n{tail(log)}"
    for item in items:
        assert item["device_id"] == device_id
        assert item["label"] == "person"
        x1, y1, x2, y2 = item["xyxy"]
        assert 0 <= x1 < x2 <= 1, item
        assert 0 <= y1 < y2 <= 1, item
        assert 0.25 <= item["confidence"] <= 1

    # The first processed frame is bus.jpg, letterboxed into the video: its persons must be
    # where Ultralytics' reference puts them (IoU >= 0.8 after the video's lossy encoding).
    first_index = min(item["frame_index"] for item in items)
    assert first_index == 0
    first = [item["xyxy"] for item in items if item["frame_index"] == first_index]
    expected = json.loads((testdata_dir / "expected" / "yolov8n-coco.json").read_text())
    r, ox, oy = first_frame_transform((810, 1080), VIDEO_SIZE)
    w, h = VIDEO_SIZE
    persons = [
        [
            (ox + r * b["xyxy"][0]) / w,
            (oy + r * b["xyxy"][1]) / h,
            (ox + r * b["xyxy"][2]) / w,
            (oy + r * b["xyxy"][3]) / h,
        ]
        for b in expected["images"]["bus.jpg"]
        if b["cls"] == "person" and b["conf"] > 0.5
    ]
    assert len(persons) == 3
    for ref in persons:
        best = max(_iou(ref, got) for got in first)
        assert best >= 0.8, (ref, first)
