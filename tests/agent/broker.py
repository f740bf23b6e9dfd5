"""A private Mosquitto that a test can stop and restart (persistent sessions survive)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


class PrivateBroker:
    def __init__(self, port: int, workdir: Path, *, persistence: bool = True) -> None:
        self.port = port
        self.url = f"mqtt://127.0.0.1:{port}"
        workdir.mkdir(parents=True, exist_ok=True)
        self._conf = workdir / "mosquitto.conf"
        self._conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\n"
            + (
                f"persistence true\npersistence_location {workdir}/\nautosave_interval 1\n"
                if persistence
                else "persistence false\n"
            )
        )
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = open(workdir / "mosquitto.log", "ab")  # noqa: SIM115 - closed in close()

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self._proc = subprocess.Popen(
            [binary, "-c", str(self._conf)], stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not start on port {self.port}")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None

    def kill(self) -> None:
        """SIGKILL: what the broker held in memory only is gone."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
            self._proc = None

    def close(self) -> None:
        self.stop()
        self._log.close()
