"""The agent's logs: JSON lines that name the device and, from a stream's task and its capture
thread, the stream; never a frame, a camera password or a token."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from aios.agent.config import build_config
from aios.agent.log_setup import setup_logging
from aios.agent.runtime import Agent, RunOptions
from aios.agent.sources.camera import Camera
from aios.agent.sources.registry import CameraOptions, CameraRegistry
from aios.agent.sources.synthetic import SyntheticCamera
from aios.agent.transport.memory import MemoryTransport
from aios.shared.pipeline import SourceParams
from tests.agent.test_cli_status_doctor_service import PIPELINE  # cam -> det -> out


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _synthetic(params: SourceParams, options: CameraOptions) -> Camera:
    return SyntheticCamera(fps=50, live=False, frames=5, label=params.uri)


async def test_a_runs_lines_name_the_device_and_the_stream(
    log_output: io.StringIO, tmp_path: Path, model_path: Path
) -> None:
    setup_logging("INFO", "json", log_output)
    cameras = CameraRegistry()
    cameras.register("file", _synthetic)
    device = {"org_id": "acme", "device_id": "edge-1"}
    state, model = str(tmp_path / "state"), str(model_path)
    config = build_config(
        {"device": device, "state_dir": state, "model_path": model, "pipeline": PIPELINE},
        environ={},
    )
    agent = Agent(
        config,
        transport=MemoryTransport(),
        cameras=cameras,
        options=RunOptions(install_signal_handlers=False, file_realtime=False),
    )
    log_output.truncate(0)  # what the constructor said is not part of the run
    log_output.seek(0)
    await agent.run()
    lines = _lines(log_output)
    assert lines, "the run logged nothing"
    for line in lines:
        assert line.get("org_id") == "acme", line
        assert line.get("device_id") == "edge-1", line
    ended = [line for line in lines if line["event"] == "stream cam ended"]
    assert ended
    assert ended[0]["stream"] == "cam"
    assert ended[0]["logger"] == "aios.agent.pipeline.runner"
    from_capture = [line for line in lines if line["logger"] == "aios.agent.sources.capture"]
    assert from_capture, [line["event"] for line in lines]
    assert {line["stream"] for line in from_capture} == {"cam"}


def test_no_frame_password_or_token_in_a_line(log_output: io.StringIO) -> None:
    setup_logging("INFO", "json", log_output)
    frame = np.zeros((480, 640, 3), dtype=np.uint8)
    structlog.get_logger("aios.test").warning(
        "opened rtsp://admin:hunter2@cam.local/stream",
        frame=frame,
        token="secret-token",
        password="hunter2",
        jpeg=b"\xff\xd8" * 10,
    )
    logging.getLogger("aios.test").error("cannot open %s", "rtsp://admin:hunter2@cam.local/1")
    native, stdlib = _lines(log_output)
    assert native["event"] == "opened rtsp://admin:***@cam.local/stream"
    assert native["frame"] == "<array (480, 640, 3) uint8>"
    assert native["token"] == native["password"] == "***"
    assert native["jpeg"] == "<20 bytes>"
    assert stdlib["event"] == "cannot open rtsp://admin:***@cam.local/1"
    assert "hunter2" not in log_output.getvalue()
    assert "secret-token" not in log_output.getvalue()


def test_console_lines_are_text_below_the_level_dropped(log_output: io.StringIO) -> None:
    setup_logging("WARNING", "console", log_output)
    logging.getLogger("aios.test").info("quiet")
    structlog.get_logger("aios.test").info("quiet too")
    logging.getLogger("aios.test").warning("loud")
    text = log_output.getvalue()
    assert "quiet" not in text
    assert "loud" in text
    assert "[warning" in text
