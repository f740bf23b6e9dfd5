"""Making the sample video reports its progress: every frame to a callback, drawn as a bar on a
terminal, nothing at all in a pipe (``make sample-video`` and ``make demo`` in a log)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import cv2
from rich.console import Console
from scripts.sample_video import frames_bar, make_sample_video

ROOT = Path(__file__).resolve().parents[2]


def test_every_frame_is_reported(tmp_path: Path, testdata_dir: Path) -> None:
    seen: list[tuple[int, int]] = []
    out = make_sample_video(
        tmp_path / "v.mp4",
        [testdata_dir / "images" / "bus.jpg"],
        seconds=2,
        fps=5,
        size=(320, 180),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(i, 10) for i in range(1, 11)]
    capture = cv2.VideoCapture(str(out))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 10
    capture.release()


def test_a_terminal_gets_a_bar() -> None:
    out = io.StringIO()
    with frames_bar(Console(file=out, force_terminal=True, width=100)) as progress:
        assert progress is not None
        progress(3, 10)
        progress(10, 10)
    assert "sample video" in out.getvalue()
    assert "10/10 frames" in out.getvalue()


# The agent's RTSP module, imported by other tests of this process, turns on OpenCV's
# thread-safe FFmpeg open, which OpenCV announces on stderr: not the script's output.
PLAIN_ENV = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_IS_THREAD_SAFE"}


def test_a_pipe_gets_no_progress(tmp_path: Path, testdata_dir: Path) -> None:
    with frames_bar(Console(file=io.StringIO())) as progress:
        assert progress is None
    done = subprocess.run(
        [sys.executable, "-m", "scripts.sample_video", str(tmp_path / "s.mp4"),
         "--images", str(testdata_dir / "images"), "--seconds", "1", "--fps", "4",
         "--width", "160", "--height", "90"],
        cwd=ROOT, env=PLAIN_ENV, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "s.mp4")
    assert done.stderr == ""
