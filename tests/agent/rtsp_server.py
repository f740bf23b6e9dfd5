"""A real RTSP server for tests: ``scripts/rtsp_server.py`` (GStreamer) run as a subprocess.

It runs under the system Python, which has PyGObject and gst-rtsp-server from Debian's packages
(``scripts/ensure_rtsp_deps.sh``; ``make test`` runs it). Missing dependencies fail the tests
with that instruction rather than skip them.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "scripts" / "rtsp_server.py"
SYSTEM_PYTHON = os.environ.get("AIOS_TEST_GST_PYTHON", "/usr/bin/python3")
PROBE = (
    "import gi; gi.require_version('GstRtspServer', '1.0'); "
    "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
    "missing = [e for e in ('x264enc', 'rtph264pay', 'jpegenc', 'rtpjpegpay', 'decodebin') "
    "if Gst.ElementFactory.find(e) is None]; print(' '.join(missing))"
)


def require_gstreamer() -> None:
    try:
        out = subprocess.run(
            [SYSTEM_PYTHON, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.fail(f"GStreamer RTSP server unusable ({exc}): run scripts/ensure_rtsp_deps.sh")
    if out:
        pytest.fail(f"GStreamer elements missing ({out}): run scripts/ensure_rtsp_deps.sh")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RtspServer:
    """One server process on a fixed port: start, kill (SIGKILL, as a crash) and start again."""

    def __init__(self, video: Path, log_dir: Path, *, user: str = "", password: str = "") -> None:
        self.video = video
        self.port = free_port()
        self.user = user
        self.password = password
        self._log_dir = log_dir
        self._proc: subprocess.Popen[str] | None = None
        self._starts = 0

    def url(self, mount: str, *, user: str | None = None, password: str | None = None) -> str:
        user = self.user if user is None else user
        password = self.password if password is None else password
        auth = f"{quote(user, safe='')}:{quote(password, safe='')}@" if user else ""
        return f"rtsp://{auth}127.0.0.1:{self.port}/{mount}"

    def start(self, timeout_s: float = 20.0) -> None:
        """Start it and wait for ``READY`` (retrying while the killed one's port is released)."""
        deadline = time.monotonic() + timeout_s
        cmd = [SYSTEM_PYTHON, str(SERVER), "--port", str(self.port), "--video", str(self.video)]
        if self.user:
            cmd += ["--user", self.user, "--password", self.password]
        while time.monotonic() < deadline:
            self._starts += 1
            log_path = self._log_dir / f"rtsp-server-{self.port}-{self._starts}.log"
            with log_path.open("w") as log:
                proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
            self._proc = proc
            assert proc.stdout is not None
            while time.monotonic() < deadline and proc.poll() is None:
                ready, _, _ = select.select([proc.stdout], [], [], 0.2)
                if ready and proc.stdout.readline().startswith("READY"):
                    return
            self.stop()
            time.sleep(0.2)
        raise AssertionError(f"RTSP server did not start on port {self.port}; see {log_path}")

    def kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait(10)
        self._forget()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        self._forget()

    def _forget(self) -> None:
        """Close the ended process's pipe to us (left open, it is a leaked file)."""
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc = None


class SilentServer:
    """A TCP port that accepts connections (the kernel's backlog) and never says a word."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port: int = self._sock.getsockname()[1]

    def url(self, userinfo: str = "") -> str:
        return f"rtsp://{userinfo}127.0.0.1:{self.port}/stream"

    def close(self) -> None:
        self._sock.close()
