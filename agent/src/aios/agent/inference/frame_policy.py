"""Which frames are worth inference: every Nth, at most a target fps, and only on motion.

:meth:`FramePolicy.should_infer` is called once per captured frame, cheapest test first:

1. ``every_n``: only every Nth frame is considered;
2. ``target_fps``: at most that many inferences per second of frame timestamps;
3. ``motion_threshold``: the mean absolute difference (0-255) between a small grayscale
   thumbnail of this frame and that of the last *inferred* frame must exceed the threshold.
   Comparing with the last inferred frame (not the previous one) means slow drift still adds up
   and eventually triggers inference.

A skipped frame keeps the last detections (the caller reuses them), so a static scene costs a
thumbnail per frame instead of a network run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from aios.agent.errors import ConfigError, InputError
from aios.shared.pipeline.nodes import DetectParams

THUMB_WIDTH = 64


@dataclass(frozen=True, slots=True)
class PolicyStats:
    frames: int
    inferred: int
    skipped_nth: int
    skipped_fps: int
    skipped_still: int

    @property
    def skip_share(self) -> float:
        return 1.0 - self.inferred / self.frames if self.frames else 0.0


@dataclass(slots=True)
class FramePolicy:
    """Frame skipping; ``motion_threshold`` ``None`` disables motion gating."""

    every_n: int = 1
    target_fps: float | None = None
    motion_threshold: float | None = None
    _count: int = field(default=0, init=False)
    _last_time: float | None = field(default=None, init=False)
    _last_thumb: npt.NDArray[np.int16] | None = field(default=None, init=False)
    _inferred: int = field(default=0, init=False)
    _skips: list[int] = field(default_factory=lambda: [0, 0, 0], init=False)

    def __post_init__(self) -> None:
        if self.every_n < 1:
            raise ConfigError(f"every_n must be at least 1, got {self.every_n}")
        if self.target_fps is not None and self.target_fps <= 0:
            raise ConfigError(f"target_fps must be positive, got {self.target_fps}")
        if self.motion_threshold is not None and not 0 <= self.motion_threshold <= 255:
            raise ConfigError(f"motion_threshold must be in [0, 255], got {self.motion_threshold}")

    @classmethod
    def from_params(cls, params: DetectParams) -> FramePolicy:
        return cls(
            every_n=params.every_n,
            target_fps=params.target_fps,
            motion_threshold=params.motion_threshold,
        )

    def should_infer(self, frame: npt.NDArray[np.uint8], timestamp: float) -> bool:
        """Whether to run the detector on ``frame`` (BGR or gray uint8) taken at ``timestamp``
        (seconds). A ``True`` answer records the frame as the last inferred one."""
        index = self._count
        self._count += 1
        if index % self.every_n:
            self._skips[0] += 1
            return False
        if (
            self.target_fps is not None
            and self._last_time is not None
            and timestamp - self._last_time < 1.0 / self.target_fps - 1e-6
        ):
            self._skips[1] += 1
            return False
        thumb: npt.NDArray[np.int16] | None = None
        if self.motion_threshold is not None:
            thumb = thumbnail(frame)
            last = self._last_thumb
            if last is not None and last.shape == thumb.shape:
                change = float(np.mean(np.abs(thumb - last)))
                if change <= self.motion_threshold:
                    self._skips[2] += 1
                    return False
        self._last_time = timestamp
        self._last_thumb = thumb
        self._inferred += 1
        return True

    @property
    def stats(self) -> PolicyStats:
        return PolicyStats(self._count, self._inferred, *self._skips)


def thumbnail(frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.int16]:
    """A ``THUMB_WIDTH``-wide grayscale thumbnail (area-averaged, so sensor noise cancels)."""
    if not isinstance(frame, np.ndarray) or frame.size == 0 or frame.dtype != np.uint8:
        raise InputError("motion gating needs a non-empty uint8 frame")
    h, w = frame.shape[:2]
    size = (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / w)))
    small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    if small.ndim == 3:
        small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    return np.asarray(small, dtype=np.int16)
