"""``agent/examples/pipeline.yaml`` works as its header says: make the sample video with the
documented command, point ``AIOS_AGENT_MODEL_PATH`` at the weights, run it, and detections of people
reach the broker. The file is copied to the same place under a temporary folder so that its
relative paths resolve as they do in the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from aios.shared.messages import DetectionBatch
from tests.agent.mqtt_capture import Collector
from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def test_the_example_config_runs_as_documented(
    tmp_path: Path, mqtt_url: str, topic_prefix: str, model_path: Path, testdata_dir: Path
) -> None:
    example = tmp_path / "agent" / "examples" / "pipeline.yaml"
    example.parent.mkdir(parents=True)
    shutil.copy(ROOT / "agent" / "examples" / "pipeline.yaml", example)
    header = example.read_text()
    assert "make sample-video" in header
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nsample-video:", 1)[1].split("\n\n", 1)[0]
    # `make sample-video`'s own command, run from the (temporary) repository root.
    command = recipe.strip().splitlines()[-1].split("python ", 1)[1].split()
    env = {**os.environ, "AIOS_TEST_DATA": str(testdata_dir)}
    made = subprocess.run(
        [sys.executable, *command, "--seconds", "4"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr

    collector = Collector(mqtt_url, f"{topic_prefix}/v1/demo/edge-1/det")
    try:
        run = subprocess.run(
            [
                *(BIN / "aios-agent", "run", "--config", "agent/examples/pipeline.yaml"),
                *("--duration", "20", "--fast"),
            ],
            cwd=tmp_path,
            env={
                **env,
                "AIOS_AGENT_MODEL_PATH": str(model_path),
                "AIOS_AGENT_MQTT_URL": mqtt_url,
                "AIOS_AGENT_MQTT_TOPIC_PREFIX": topic_prefix,
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert "Traceback" not in run.stderr
        assert collector.wait_for(lambda: bool(collector.of_type(DetectionBatch)), 10)
    finally:
        collector.close()
    labels = {
        d.label
        for batch in collector.of_type(DetectionBatch)
        for f in batch.frames
        for d in f.detections
    }
    assert "person" in labels, labels
    assert (tmp_path / ".aios-agent" / "spool.sqlite").exists()  # state_dir as documented
