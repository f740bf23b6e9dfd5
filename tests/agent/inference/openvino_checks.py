"""The OpenVINO execution provider for real. Runs only inside ``scripts/openvino_env.sh``'s
environment (``aios-agent[openvino]``), started by ``test_openvino.py``; the file name keeps
the workspace's run (CPU build of ONNX Runtime) from collecting it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import cv2
import onnxruntime as ort
import pytest
from scripts.provider_parity import as_wanted, reference_boxes, same_boxes

from aios.agent.inference import Detector, session
from aios.agent.inference.providers import ProviderName, intel_cpu, provider_options
from aios.agent.runtime import Agent, RunOptions
from aios.agent.transport.memory import MemoryTransport
from tests.agent.configs import agent_config
from tests.agent.videos import make_sample_video

IMAGES = ["bus.jpg", "zidane.jpg", "grace_hopper.jpg", "astronaut.png"]


def test_this_is_the_openvino_build() -> None:
    assert "OpenVINOExecutionProvider" in ort.get_available_providers()


@pytest.fixture(scope="module")
def openvino(model_path: Path) -> Detector:
    return Detector.load(model_path, provider="openvino")


@pytest.fixture(scope="module")
def cpu(model_path: Path) -> Detector:
    return Detector.load(model_path, provider="cpu")


@pytest.mark.parametrize("name", IMAGES)
def test_openvino_finds_the_reference_boxes_and_the_cpu_providers(
    openvino: Detector, cpu: Detector, testdata_dir: Path, name: str
) -> None:
    assert openvino.provider == "openvino"
    image = cv2.imread(str(testdata_dir / "images" / name))
    assert image is not None
    got, ours = openvino.detect(image), cpu.detect(image)
    want = reference_boxes(testdata_dir / "expected" / "yolov8n-coco.json", cpu.names)[name]
    assert same_boxes(want, got) == (len(want), len(want))
    assert len(got) == len(want)
    assert same_boxes(as_wanted(ours), got) == (len(ours), len(got))


def test_auto_picks_openvino_on_intel(model_path: Path) -> None:
    expected: ProviderName = "openvino" if intel_cpu() else "cpu"
    assert Detector.load(model_path, provider="auto").provider == expected


def test_openvino_that_cannot_load_falls_back_to_cpu(
    model_path: Path,
    testdata_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """OpenVINO asked for a device this machine lacks (an NPU) fails to start; ONNX Runtime
    then hands back a CPU session, and the agent says so and runs on the CPU provider."""
    real = provider_options  # what the session module calls, replaced below

    def on_missing_npu(name: ProviderName, model: Path, cache_root: Path) -> dict[str, str]:
        return {"device_type": "NPU"} if name == "openvino" else real(name, model, cache_root)

    monkeypatch.setattr(session, "provider_options", on_missing_npu)
    caplog.set_level(logging.WARNING)
    detector = Detector.load(model_path, provider="openvino")
    assert detector.provider == "cpu"
    assert any("openvino" in r.getMessage() for r in caplog.records)
    image = cv2.imread(str(testdata_dir / "images" / "bus.jpg"))
    assert image is not None
    want = reference_boxes(testdata_dir / "expected" / "yolov8n-coco.json", detector.names)
    assert same_boxes(want["bus.jpg"], detector.detect(image)) == (5, 5)


async def test_the_heartbeat_reports_openvino(
    tmp_path: Path, model_path: Path, testdata_dir: Path
) -> None:
    video = make_sample_video(testdata_dir / "images", tmp_path / "clip.mp4", seconds=2, fps=10)
    pipeline = {
        "name": "openvino",
        "nodes": [
            {"id": "cam", "type": "source", "params": {"kind": "file", "uri": str(video)}},
            {"id": "det", "type": "detect", "params": {"provider": "openvino"}},
            {"id": "dets", "type": "sink", "params": {"kind": "mqtt_detections"}},
        ],
        "edges": [{"source": "cam", "target": "det"}, {"source": "det", "target": "dets"}],
    }
    config = agent_config(
        tmp_path, model_path, pipeline, {"apply": {"enabled": False}, "heartbeat_interval_s": 0.2}
    )
    transport = MemoryTransport()
    agent = Agent(
        config,
        transport=transport,
        options=RunOptions(install_signal_handlers=False, exit_when_streams_end=True),
    )
    await asyncio.wait_for(agent.run(), 120)
    providers = {h.provider for h in transport.heartbeats() if h.provider is not None}
    assert providers == {"openvino"}
    persons = [d for b in transport.batches() for f in b.frames for d in f.detections]
    assert any(d.label == "person" for d in persons)
