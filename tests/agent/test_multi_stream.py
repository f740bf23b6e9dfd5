"""One detect node shared by four cameras: fair turns, and every downstream state per stream.

The agent runs in-process with the in-memory transport; each `file` source is a live camera
repeating one of the shared test images (a different scene per camera), so the real detector
finds different objects on each stream.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from aios.agent.pipeline.nodes.detect import DetectRuntime
from aios.agent.pipeline.nodes.zone import ZoneRuntime
from aios.agent.runtime import Agent, RunOptions
from aios.agent.sources.camera import Camera
from aios.agent.sources.registry import CameraOptions, CameraRegistry
from aios.agent.transport.memory import MemoryTransport
from aios.shared.pipeline import SourceParams
from tests.agent.configs import agent_config

IMAGES = ("bus.jpg", "zidane.jpg", "grace_hopper.jpg", "astronaut.png")
STREAMS = tuple(f"cam{i}" for i in range(len(IMAGES)))


class StillCamera:
    """A camera showing one picture at ``fps``: live, or a file of ``frames`` frames."""

    def __init__(self, image: npt.NDArray[np.uint8], fps: float, frames: int | None = None) -> None:
        self.live = frames is None
        self._image = image
        self._interval = 1.0 / fps
        self._frames = frames
        self._count = 0
        self._next_at = 0.0

    @property
    def name(self) -> str:
        return "still"

    def open(self) -> None:
        self._next_at = time.monotonic()

    def read(self) -> npt.NDArray[np.uint8] | None:
        if self._frames is not None and self._count >= self._frames:
            return None
        self._count += 1
        self._next_at += self._interval
        time.sleep(max(0.0, self._next_at - time.monotonic()))
        return self._image

    def close(self) -> None:
        return None


def still_cameras(images_dir: Path, fps: float = 30.0, frames: int | None = None) -> CameraRegistry:
    """`file` sources whose uri names a test image become :class:`StillCamera` s."""

    def make(params: SourceParams, options: CameraOptions) -> Camera:
        image = cv2.imread(str(images_dir / params.uri))
        assert image is not None, params.uri
        return StillCamera(np.ascontiguousarray(image, dtype=np.uint8), fps, frames)

    registry = CameraRegistry()
    registry.register("file", make)
    return registry


def shared_detect_pipeline() -> dict[str, object]:
    """Four cameras -> one detect -> track -> zone (whole frame) -> count rule; the zone's
    detections and the rule's events go to sinks."""
    nodes: list[dict[str, object]] = [
        {"id": "det", "type": "detect", "params": {"provider": "cpu", "conf": 0.25}},
        {"id": "trk", "type": "track"},
        {
            "id": "area",
            "type": "zone",
            "params": {"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]},
        },
        {
            "id": "someone",
            "type": "rule",
            "params": {"event_type": "person_present", "condition": "count", "snapshot": False},
        },
        {"id": "dets", "type": "sink", "params": {"kind": "mqtt_detections"}},
        {"id": "events", "type": "sink", "params": {"kind": "mqtt_events"}},
    ]
    edges = [
        {"source": "det", "target": "trk"},
        {"source": "trk", "target": "area"},
        {"source": "area", "target": "someone"},
        {"source": "area", "target": "dets"},
        {"source": "someone", "target": "events"},
    ]
    for cam, image in zip(STREAMS, IMAGES, strict=True):
        nodes.append({"id": cam, "type": "source", "params": {"kind": "file", "uri": image}})
        edges.append({"source": cam, "target": "det"})
    return {"name": "shared-detect", "nodes": nodes, "edges": edges}


def agent_for(
    tmp_path: Path, model_path: Path, cameras: CameraRegistry, pipeline: dict[str, object]
) -> tuple[Agent, MemoryTransport]:
    config = agent_config(
        tmp_path, model_path, pipeline, {"apply": {"enabled": False}, "heartbeat_interval_s": 3600}
    )
    transport = MemoryTransport()
    agent = Agent(
        config,
        transport=transport,
        cameras=cameras,
        options=RunOptions(install_signal_handlers=False),
    )
    return agent, transport


async def until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_one_detector_serves_four_streams_in_turn_with_per_stream_state(
    tmp_path: Path, model_path: Path, testdata_dir: Path
) -> None:
    cameras = still_cameras(testdata_dir / "images")
    agent, transport = agent_for(tmp_path, model_path, cameras, shared_detect_pipeline())
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await until(lambda: agent.supervisor.current is not None)
        runner = agent.supervisor.current
        assert runner is not None
        detect = runner.nodes["det"]
        zone = runner.nodes["area"]
        assert isinstance(detect, DetectRuntime)
        assert isinstance(zone, ZoneRuntime)
        await until(lambda: sum(detect.inferences.values()) >= 10 * len(STREAMS))
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)

    # Fair turns: every stream got its share of the one detector.
    counts = [detect.inferences.get(cam, 0) for cam in STREAMS]
    assert min(counts) >= 0.8 * statistics.mean(counts), counts

    # Tracker ids are per stream: each camera numbers its own objects from 1, and keeps them.
    frames_by_stream: dict[str, list[set[int]]] = {cam: [] for cam in STREAMS}
    for batch in transport.batches():
        for frame in batch.frames:
            ids = {d.track_id for d in frame.detections if d.track_id is not None}
            frames_by_stream[batch.stream_id].append(ids)
    sizes = set()
    for cam, frames in frames_by_stream.items():
        assert len(frames) >= 8, (cam, len(frames))
        every = set().union(*frames)
        assert every == set(range(1, len(every) + 1)), (cam, every)
        assert frames[-1] == every, (cam, frames[-3:])
        sizes.add(len(every))
        # The zone's count is that stream's own, not the last frame of any stream.
        assert zone.counts[cam] == len(frames[-1]), (cam, zone.counts)
    assert len(sizes) > 1, "the four scenes should not all show as many objects"

    # The count rule's cooldown is per stream: one event for each camera, not one in all.
    events = [e for e in transport.events() if e.event_type == "person_present"]
    assert sorted(e.stream_id for e in events) == sorted(STREAMS)


async def test_agent_without_config_apply_exits_when_its_streams_end(
    tmp_path: Path, model_path: Path, testdata_dir: Path
) -> None:
    cameras = still_cameras(testdata_dir / "images", fps=50.0, frames=5)
    pipeline: dict[str, object] = {
        "name": "finite",
        "nodes": [
            {"id": "cam0", "type": "source", "params": {"kind": "file", "uri": "bus.jpg"}},
            {"id": "det", "type": "detect", "params": {"provider": "cpu"}},
            {"id": "dets", "type": "sink", "params": {"kind": "mqtt_detections"}},
        ],
        "edges": [{"source": "cam0", "target": "det"}, {"source": "det", "target": "dets"}],
    }
    agent, transport = agent_for(tmp_path, model_path, cameras, pipeline)
    await asyncio.wait_for(agent.run(), 30)
    assert transport.batches(), "the frames before the end were processed and sent"
