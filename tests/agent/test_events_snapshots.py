"""Events end to end (source -> detect -> track -> zone -> rule -> sink) with the in-memory
transport, and JPEG snapshots uploaded to a real local HTTP server."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from pathlib import Path

import numpy as np
import pytest
from scripts.sample_pipeline import FULL_FRAME, person_present_pipeline

from aios.agent.config import build_config
from aios.agent.detections import Detections
from aios.agent.runtime import Agent, RunOptions
from aios.agent.transport.memory import MemoryTransport
from aios.agent.transport.snapshot_upload import SnapshotUploader
from tests.agent.http_stub import http_stub
from tests.agent.videos import make_sample_video

PASSWORD = "aiosdev_pw"


def events_config(video: Path, model: Path, state: Path, control_plane: str | None) -> object:
    data: dict[str, object] = {
        "device": {"org_id": "acme", "device_id": "edge-1"},
        "mqtt": {"username": "edge-1", "password": PASSWORD},
        "state_dir": str(state),
        "model_path": str(model),
        "pipeline": person_present_pipeline(
            "people",
            str(video),
            loop=False,
            detect={"classes": ["person"]},
            zone=("lobby", {"polygon": FULL_FRAME}),
            rule={"condition": "occupancy", "severity": "info", "snapshot": True},
        ),
    }
    if control_plane is not None:
        data["control_plane_url"] = control_plane
    return build_config(data, environ={})


def run_agent(config: object) -> MemoryTransport:
    transport = MemoryTransport()
    options = RunOptions(file_realtime=False, install_signal_handlers=False, duration_s=120)
    agent = Agent(config, transport=transport, options=options)  # type: ignore[arg-type]
    asyncio.run(agent.run())
    return transport


@pytest.fixture(scope="module")
def video(testdata_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("video") / "people.mp4"
    return make_sample_video(testdata_dir / "images", out, seconds=3.0, fps=10.0)


def test_person_present_event_lifecycle_with_uploaded_snapshot(
    video: Path, model_path: Path, tmp_path: Path, free_port: int
) -> None:
    with http_stub(free_port, [(201, {})]) as stub:
        config = events_config(video, model_path, tmp_path / "state", stub.url)
        transport = run_agent(config)
    events = transport.events()
    assert events, "no event from a video full of people"
    start = events[0]
    assert start.phase == "start"
    assert start.event_type == "person_present"
    assert start.zone_id == "lobby"
    assert start.rule_id == "present"
    assert start.stream_id == "cam"
    assert start.device_id == "edge-1"
    assert start.track_ids
    assert all(t >= 0 for t in start.track_ids)
    ends = [e for e in events if e.phase == "end" and e.id == start.id]
    assert len(ends) == 1, [(e.phase, e.id) for e in events]
    assert set(start.track_ids) <= set(ends[0].track_ids)
    assert ends[0].attributes["max_count"] >= 1  # type: ignore[operator]
    # One episode, one snapshot: referenced by its start and its end, uploaded once as JPEG.
    assert start.snapshot == f"snapshots/edge-1/{start.id}.jpg"
    assert ends[0].snapshot == start.snapshot
    uploads = [r for r in stub.requests if r.path == f"/api/v1/events/{start.id}/snapshot"]
    assert len(uploads) == 1
    upload = uploads[0]
    assert upload.method == "PUT"
    assert upload.headers["Content-Type"] == "image/jpeg"
    assert upload.body[:3] == b"\xff\xd8\xff"
    assert len(upload.body) > 5_000
    expected = base64.b64encode(f"edge-1:{PASSWORD}".encode()).decode()
    assert upload.headers["Authorization"] == f"Basic {expected}"


def test_no_control_plane_means_no_snapshot_and_a_log_line(
    video: Path, model_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aios.agent.runtime")
    transport = run_agent(events_config(video, model_path, tmp_path / "state", None))
    events = transport.events()
    assert events
    assert all(e.snapshot is None for e in events)
    assert "event snapshots disabled" in caplog.text


def frame() -> np.ndarray:
    image = np.zeros((120, 160, 3), np.uint8)
    image[40:80, 50:110] = 200
    return image


def boxes() -> Detections:
    return Detections(
        xyxy=np.array([[50, 40, 110, 80]], np.float32),
        confidence=np.array([0.9], np.float32),
        class_id=np.array([0], np.int32),
        tracker_id=np.array([3], np.int64),
    )


def wait_for(predicate: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_uploader_retries_server_errors(free_port: int) -> None:
    with http_stub(free_port, [(503, {}), (502, {}), (201, {})]) as stub:
        uploader = SnapshotUploader(stub.url, device_id="d", password="p", backoff_s=0.01)
        uploader.start()
        key = uploader.submit("ev1", frame(), boxes(), labels=["person"])
        wait_for(lambda: uploader.stats.uploaded == 1)
        uploader.stop()
    assert key == "snapshots/d/ev1.jpg"
    assert list(uploader.stats.keys) == [key]
    assert uploader.stats.retries == 2
    assert len(stub.requests) == 3


def test_uploader_keeps_a_snapshot_until_its_event_is_known(free_port: int) -> None:
    # the control plane answers 425 until the event (sent over MQTT) is stored
    with http_stub(free_port, [(425, {})] * 5 + [(201, {})]) as stub:
        uploader = SnapshotUploader(
            stub.url, device_id="d", password="p", attempts=2, backoff_s=0.01, later_s=0.05
        )
        uploader.start()
        key = uploader.submit("ev1", frame(), boxes())
        wait_for(lambda: uploader.stats.uploaded == 1)
        uploader.stop()
    assert list(uploader.stats.keys) == [key]
    assert uploader.stats.failed == 0
    assert uploader.stats.deferred >= 2
    assert len(stub.requests) == 6
    assert len({r.body for r in stub.requests}) == 1  # encoded once, sent again as is


def test_uploader_gives_up_on_a_client_error(free_port: int) -> None:
    with http_stub(free_port, [(403, {})]) as stub:
        uploader = SnapshotUploader(stub.url, device_id="d", password="p", backoff_s=0.01)
        uploader.start()
        uploader.submit("ev1", frame(), boxes())
        wait_for(lambda: uploader.stats.failed == 1)
        uploader.stop()
    assert len(stub.requests) == 1
    assert uploader.stats.uploaded == 0
    assert "HTTP 403" in (uploader.stats.last_error or "")


def test_uploader_queue_is_bounded(free_port: int) -> None:
    uploader = SnapshotUploader(
        f"http://127.0.0.1:{free_port}", device_id="d", password=None, max_queue=2
    )
    keys = [uploader.submit(f"ev{i}", frame(), boxes()) for i in range(5)]  # worker not started
    assert keys[:2] == ["snapshots/d/ev0.jpg", "snapshots/d/ev1.jpg"]
    assert keys[2:] == [None, None, None]
    assert uploader.stats.dropped == 3
