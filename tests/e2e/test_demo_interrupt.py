"""Ctrl-C in ``make demo`` (``python -m scripts.demo``) stops the control plane and the agent and
ends with one line, not a traceback. The terminal's Ctrl-C is a SIGINT to the whole foreground
process group: the test sends exactly that to the demo's group."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT


def test_ctrl_c_in_the_demo_stops_cleanly(tmp_path: Path, model_path: Path) -> None:
    env = {
        **os.environ,
        "AIOS_DEMO_DIR": str(tmp_path / "demo"),
        "AIOS_AGENT_MODEL_PATH": str(model_path),
        "AIOS_DEMO_SECONDS": "120",
        "COLUMNS": "120",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, like a shell job
    )
    assert proc.stdout is not None
    output = b""
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + 240
    try:
        while b"Agent" not in output and time.monotonic() < deadline and proc.poll() is None:
            if selector.select(timeout=1):
                output += os.read(proc.stdout.fileno(), 65536)
        assert b"Agent" in output, output.decode(errors="replace")
        base = re.search(rb"Control plane on (http://127\.0\.0\.1:\d+)", output)
        assert base is not None, output
        time.sleep(3)  # the agent is running, the demo is polling the API
        os.killpg(proc.pid, signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = (output + rest).decode(errors="replace")
    assert "Traceback" not in text, text
    assert "KeyboardInterrupt" not in text, text
    assert proc.returncode == 130, text
    assert "Stopped" in text
    # The control plane it started is gone.
    try:
        httpx.get(base.group(1).decode() + "/health", timeout=2)
        raise AssertionError("the control plane still answers after Ctrl-C")
    except httpx.HTTPError:
        pass
    agent_log = (tmp_path / "demo" / "agent.log").read_text(errors="replace")
    assert "Traceback" not in agent_log, agent_log[-3000:]
