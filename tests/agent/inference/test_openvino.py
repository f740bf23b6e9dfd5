"""``aios-agent[openvino]`` for real, in its own environment.

The workspace's environment holds the CPU build of ONNX Runtime (the cpu, gpu and openvino
extras conflict: they install the same module). ``scripts/openvino_env.sh`` builds, once, an
environment from the same lock file with the openvino extra, and the checks in
``openvino_checks.py`` run there: reference boxes, the same boxes as the CPU provider, the
provider in the heartbeat, the fallback to CPU, and ``auto`` choosing it on Intel.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CHECKS = Path(__file__).with_name("openvino_checks.py")


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="the OpenVINO wheel is checked on Linux")
def test_the_openvino_extra_passes_its_checks_in_its_own_environment(
    models_dir: Path, testdata_dir: Path
) -> None:
    built = subprocess.run(
        [str(ROOT / "scripts" / "openvino_env.sh")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    python = ROOT / built.stdout.strip().splitlines()[-1]
    env = {
        **os.environ,
        "AIOS_TEST_MODELS": str(models_dir),
        "AIOS_TEST_DATA": str(testdata_dir),
    }
    env.pop("VIRTUAL_ENV", None)
    # The workspace's pytest settings name Litestar's warnings, which this environment lacks.
    overrides = ["-o", "filterwarnings=", "-o", "addopts=--import-mode=importlib"]
    run = subprocess.run(
        [str(python), "-m", "pytest", str(CHECKS), "-q", "-p", "no:cacheprovider", *overrides],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-5000:]
    summary = re.search(r"(\d+) passed", out)
    assert summary is not None, out[-2000:]
    assert int(summary.group(1)) >= 8, out[-2000:]
    assert "skipped" not in out.splitlines()[-1], out[-2000:]
