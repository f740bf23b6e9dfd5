"""aios-agent on arm64 under qemu user-mode emulation (``scripts/arm64_check.py``).

Minutes of emulated inference, so on demand: ``AIOS_TEST_ARM64=1 uv run pytest
tests/agent/test_arm64.py``. Needs root, qemu-user-static and debootstrap (the script installs
them) and the package registries; the arm64 rootfs is cached in ``.cache/arm64``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.skipif(
    os.environ.get("AIOS_TEST_ARM64") != "1", reason="on demand: set AIOS_TEST_ARM64=1"
)
def test_the_agent_installs_detects_and_runs_on_arm64(
    models_dir: Path, testdata_dir: Path, mqtt_url: str
) -> None:
    run = subprocess.run(
        [
            *(sys.executable, "-m", "scripts.arm64_check", "--mqtt-url", mqtt_url),
            *("--model", str(models_dir / "yolov8n-coco.onnx"), "--testdata", str(testdata_dir)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3500,
    )
    assert run.returncode in (0, 1), run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert report["machine"] == "aarch64"
    assert report["reference_boxes"] == "11/11", report
    assert report["same_boxes_as_x86"] == "11/11", report
    assert report["run_exit"] == 0, report
    assert report["run_frames_sent"] > 0, report
    assert report["ok"] is True, report
