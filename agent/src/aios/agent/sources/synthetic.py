"""A synthetic camera: a first-class fake for tests and demos.

It draws moving rectangles on a plain background at a set frame rate and can be told to fail:
``fail_opens`` makes the first N ``open`` calls fail, ``drop_after`` ends the stream after N
frames (a live camera then reconnects), and ``available`` can be switched off and on from a test
to simulate a camera going away and coming back.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import numpy.typing as npt

from aios.agent.errors import SourceError


class SyntheticCamera:
    def __init__(
        self,
        *,
        width: int = 320,
        height: int = 240,
        fps: float = 30.0,
        live: bool = True,
        frames: int | None = None,
        fail_opens: int = 0,
        drop_after: int | None = None,
        label: str = "synthetic",
    ) -> None:
        self._width = width
        self._height = height
        self._interval = 1.0 / fps if fps > 0 else 0.0
        self.live = live
        self._frames = frames
        self._fail_opens = fail_opens
        self._drop_after = drop_after
        self._label = label
        self.available = threading.Event()
        self.available.set()
        self.opens = 0
        self._count = 0
        self._since_open = 0
        self._is_open = False
        self._next_at = 0.0

    @property
    def name(self) -> str:
        return self._label

    def open(self) -> None:
        self.opens += 1
        if self.opens <= self._fail_opens or not self.available.is_set():
            raise SourceError(f"{self._label} is unavailable")
        self._is_open = True
        self._since_open = 0
        self._next_at = time.monotonic()

    def read(self) -> npt.NDArray[np.uint8] | None:
        if not self._is_open:
            raise SourceError(f"{self._label} is not open")
        if self._frames is not None and self._count >= self._frames:
            return None
        if not self.available.is_set():
            return None
        if self._drop_after is not None and self._since_open >= self._drop_after:
            return None
        if self._interval > 0:
            self._next_at += self._interval
            delay = self._next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        image = self.render(self._count)
        self._count += 1
        self._since_open += 1
        return image

    def render(self, index: int) -> npt.NDArray[np.uint8]:
        """Frame ``index``: a grey background with a bright box moving left to right."""
        image = np.full((self._height, self._width, 3), 64, np.uint8)
        w, h = self._width // 6, self._height // 3
        x = (index * 4) % max(1, self._width - w)
        y = self._height // 3
        image[y : y + h, x : x + w] = (40, 200, 240)
        return image

    def close(self) -> None:
        self._is_open = False
