"""A video file: paced to its own frame rate (or as fast as possible), optionally looping."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from aios.agent.errors import SourceError


class FileCamera:
    live = False

    def __init__(
        self, path: Path, *, loop: bool = False, realtime: bool = True, max_fps: float | None = None
    ) -> None:
        self._path = path
        self._loop = loop
        self._realtime = realtime
        self._max_fps = max_fps
        self._cap: cv2.VideoCapture | None = None
        self._interval = 0.0
        self._next_at = 0.0

    @property
    def name(self) -> str:
        return f"file {self._path}"

    def open(self) -> None:
        if not self._path.is_file():
            raise SourceError(f"video file {self._path} does not exist")
        try:
            cap = cv2.VideoCapture(str(self._path))
        except cv2.error as exc:
            raise SourceError(f"cannot open video file {self._path}: {exc}") from None
        if not cap.isOpened():
            raise SourceError(f"cannot open video file {self._path} (unsupported format?)")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not 0.0 < fps < 1000.0:
            fps = 25.0
        if self._max_fps is not None:
            fps = min(fps, self._max_fps) if self._realtime else self._max_fps
        self._interval = 1.0 / fps if (self._realtime or self._max_fps is not None) else 0.0
        self._next_at = time.monotonic()
        self._cap = cap

    def read(self) -> npt.NDArray[np.uint8] | None:
        if self._cap is None:
            raise SourceError(f"video file {self._path} is not open")
        ok, image = self._cap.read()
        if not ok and self._loop:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._cap.read()
        if not ok or image is None:
            return None
        if self._interval > 0.0:
            self._next_at += self._interval
            delay = self._next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:  # fell far behind (a stall): do not burst to catch up
                self._next_at = time.monotonic()
        return np.ascontiguousarray(image, dtype=np.uint8)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
