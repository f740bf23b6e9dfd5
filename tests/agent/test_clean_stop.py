"""A normal stop of ``aios-agent run`` (its duration passed, or SIGTERM from systemd) logs no
WARNING: the agent's own disconnect from the broker is not a lost connection."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("how", ["duration", "sigterm"])
def test_a_normal_stop_is_not_a_warning(
    tmp_path: Path, mqtt_url: str, topic_prefix: str, how: str
) -> None:
    config = tmp_path / "agent.json"
    config.write_text(
        json.dumps(
            {
                "device": {"org_id": "o", "device_id": "clean-stop"},
                "mqtt": {"url": mqtt_url, "topic_prefix": topic_prefix},
                "state_dir": str(tmp_path / "state"),
                "heartbeat_interval_s": 1,
            }
        )
    )
    args = [str(BIN / "aios-agent"), "run", "--config", str(config)]
    if how == "duration":
        args += ["--duration", "4"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines = []
    if how == "sigterm":  # once it runs (connected), as systemd would stop it
        for line in proc.stdout:
            lines.append(line)
            if "connected to" in line:
                break
        time.sleep(1)
        os.kill(proc.pid, signal.SIGTERM)
    rest, _ = proc.communicate(timeout=60)
    output = "".join(lines) + rest
    assert proc.returncode == 0, output
    assert "connected to" in output  # it did connect, so it did disconnect at the end
    warnings = [line for line in output.splitlines() if " WARNING " in line or " ERROR " in line]
    assert not warnings, output
