"""The walking skeleton, for real: `aios-agent run` on a sample video against Mosquitto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aios.shared.messages import DetectionBatch, DeviceStatus, Heartbeat
from tests.agent.mqtt_capture import Collector
from tests.agent.videos import make_sample_video

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]


def write_config(
    path: Path,
    *,
    video: Path,
    mqtt_url: str,
    prefix: str,
    model: Path,
    state: Path,
    loop: bool = False,
    every_n: int = 3,
) -> Path:
    config = {
        "device": {"org_id": "acme", "device_id": "edge-1"},
        "mqtt": {"url": mqtt_url, "topic_prefix": prefix},
        "heartbeat_interval_s": 1,
        "state_dir": str(state),
        "model_path": str(model),
        "pipeline": {
            "name": "skeleton",
            "nodes": [
                {
                    "id": "cam1",
                    "type": "source",
                    "params": {"kind": "file", "uri": str(video), "loop": loop},
                },
                {"id": "det", "type": "detect", "params": {"every_n": every_n}},
                {"id": "out", "type": "sink", "params": {"kind": "mqtt_detections"}},
            ],
            "edges": [{"source": "cam1", "target": "det"}, {"source": "det", "target": "out"}],
        },
    }
    path.write_text(yaml.safe_dump(config))
    return path


def run_agent(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "aios-agent"), "run", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_agent_publishes_persons_with_plausible_boxes_and_heartbeats(
    tmp_path: Path, mqtt_url: str, topic_prefix: str, model_path: Path, testdata_dir: Path
) -> None:
    video = make_sample_video(testdata_dir / "images", tmp_path / "sample.mp4", seconds=3)
    config = write_config(
        tmp_path / "agent.yaml",
        video=video,
        mqtt_url=mqtt_url,
        prefix=topic_prefix,
        model=model_path,
        state=tmp_path / "state",
    )
    collector = Collector(mqtt_url, f"{topic_prefix}/v1/acme/edge-1/#")
    try:
        result = run_agent(config, "--duration", "20")
        assert result.returncode == 0, result.stderr[-3000:]
        assert collector.wait_for(lambda: len(collector.of_type(DetectionBatch)) >= 2, 5)
        batches = collector.of_type(DetectionBatch)
        frames = [f for b in batches for f in b.frames]
        # every 3rd frame of a 30-frame video is inferred and published
        assert 8 <= len(frames) <= 10
        assert {b.stream_id for b in batches} == {"cam1"}
        seqs = sorted(b.seq for b in batches)
        assert seqs == list(range(len(seqs))), "seq starts at 0 and has no gaps"
        persons = [d for f in frames for d in f.detections if d.label == "person"]
        assert len(persons) >= len(frames), "persons in (almost) every frame"
        for d in persons:
            x1, y1, x2, y2 = d.xyxy
            assert 0 <= x1 < x2 <= 1
            assert 0 <= y1 < y2 <= 1
            assert (x2 - x1) * (y2 - y1) > 0.005, "a person is not a speck"
            assert d.confidence >= 0.25
        assert collector.of_type(Heartbeat), "at least one heartbeat"
        statuses = collector.of_type(DeviceStatus)
        assert statuses
        assert statuses[0].state == "online"
        assert statuses[-1].state == "offline"
        assert not collector.rejections
    finally:
        collector.close()

    # The seq survives a restart: a second run continues where the first stopped.
    collector = Collector(mqtt_url, f"{topic_prefix}/v1/acme/edge-1/det")
    try:
        result = run_agent(config, "--duration", "20")
        assert result.returncode == 0, result.stderr[-3000:]
        assert collector.wait_for(lambda: len(collector.of_type(DetectionBatch)) >= 1, 5)
        assert min(b.seq for b in collector.of_type(DetectionBatch)) == len(seqs)
    finally:
        collector.close()
