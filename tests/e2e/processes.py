"""Real processes for the end-to-end tests: ``aios serve`` and ``aios-agent`` as subprocesses,
bounded waits on them, and an operator account on the running control plane.

Every wait has a deadline and fails with the tail of the process's log. :func:`stop` asks a
process to end (SIGTERM, or SIGINT as a terminal's Ctrl-C) and fails the test unless it exits
cleanly (status 0) within :data:`CLEAN_EXIT_S`; a process that hangs is killed first.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from scripts.operator_http import register_owner, wait_ok
from scripts.sample_video import make_sample_video

BIN = Path(sys.executable).parent
CLEAN_EXIT_S = 10.0
"""How long a stopped process may take to exit (a clean shutdown takes a second or two)."""
VIDEO_SIZE = (960, 540)
"""The sample video's frame size (bus.jpg then zidane.jpg, letterboxed into it)."""


def sample_video(out: Path, testdata_dir: Path) -> Path:
    """A 6 s, 10 fps sample video of the test images at ``out``."""
    images = [testdata_dir / "images" / "bus.jpg", testdata_dir / "images" / "zidane.jpg"]
    return make_sample_video(out, images, seconds=6, fps=10, size=VIDEO_SIZE)


def tail(log: Path, chars: int = 4000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError as exc:
        return f"<cannot read {log}: {exc}>"


def head_and_tail(log: Path, chars: int = 3000) -> str:
    """The start of ``log`` (where a startup error is) and its end."""
    try:
        text = log.read_text(errors="replace")
    except OSError as exc:
        return f"<cannot read {log}: {exc}>"
    if len(text) <= 2 * chars:
        return text
    return f"{text[:chars]}\n[...]\n{text[-chars:]}"


def unused_port() -> int:
    """A TCP port nothing listens on now (the ``free_port`` fixture gives one per test)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    """Until ``url`` answers 200; fails (with the log) if ``proc`` exits or time runs out."""
    failure = wait_ok(url, proc, timeout)
    if failure is not None:
        pytest.fail(f"{failure}:\n{head_and_tail(log)}")


def stop(
    proc: subprocess.Popen[bytes],
    log: Path | None = None,
    *,
    sig: signal.Signals = signal.SIGTERM,
    within: float = CLEAN_EXIT_S,
) -> None:
    """Send ``sig`` to ``proc`` and fail unless it exits with status 0 within ``within``
    seconds (a hung process is killed, and its log is in the failure). A process that already
    exited must have exited with 0 too."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(within)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(
                f"{_name(proc)} still running {within} s after {sig.name}; killed"
                + (f":\n{tail(log)}" if log else "")
            )
    if proc.returncode != 0:
        pytest.fail(
            f"{_name(proc)} exited with {proc.returncode} after {sig.name}"
            + (f":\n{tail(log)}" if log else "")
        )


def _name(proc: subprocess.Popen[bytes]) -> str:
    args = proc.args
    return Path(str(args[0])).name if isinstance(args, list | tuple) and args else "process"


def start(
    args: list[str | Path], log: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``args`` with stdout and stderr going to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            args, env=None if env is None else dict(env), stdout=out, stderr=subprocess.STDOUT
        )


def embedded_settings(data_dir: Path) -> dict[str, str]:
    """``aios serve`` on SQLite in ``data_dir`` with its embedded broker on a free port."""
    return {
        "AIOS_DATA_DIR": str(data_dir),
        "AIOS_SECRET_KEY": "e2e-" + uuid.uuid4().hex,
        "AIOS_MQTT_URL": "embedded",
        "AIOS_EMBEDDED_MQTT_PORT": str(unused_port()),
    }


@contextmanager
def control_plane(
    settings: Mapping[str, str], log: Path, port: int, *, sig: signal.Signals = signal.SIGTERM
) -> Iterator[str]:
    """``aios db upgrade`` then ``aios serve`` with ``settings`` (``AIOS_*``) on ``port``;
    yields the base URL once ``/health`` answers; after, stops the server with ``sig`` and
    fails the test unless it exits cleanly (:func:`stop`)."""
    env = {**os.environ, **settings}
    subprocess.run([BIN / "aios", "db", "upgrade"], env=env, check=True, timeout=120)
    proc = start([BIN / "aios", "serve", "--host", "127.0.0.1", "--port", str(port)], log, env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/health", proc, log)
        yield base
    finally:
        stop(proc, log, sig=sig)


def register_operator(base: str) -> tuple[str, dict[str, str]]:
    """Register an organization with its owner; returns its id and the owner's auth header."""
    email = f"ops-{uuid.uuid4().hex[:8]}@example.com"
    return register_owner(
        base, email, "correct horse battery staple", full_name="Ops", organization="E2E"
    )
