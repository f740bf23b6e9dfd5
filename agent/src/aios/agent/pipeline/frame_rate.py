"""The rate at which frames of one stream actually reach a node, from their timestamps.

A node downstream of ``detect`` sees only the frames the detector ran on: the source's rate
divided by ``every_n``, capped by ``target_fps``, and further limited by how fast the detector
is (capture keeps only the newest frame). The estimate starts at a nominal rate and then follows
the median interval between the timestamps of the last frames, so one long gap (a camera
reconnecting) does not swing it.
"""

from __future__ import annotations

import statistics
from collections import deque


class FrameRateEstimate:
    """Frames per second of one stream; feed it each frame's timestamp with :meth:`add`."""

    def __init__(self, nominal_fps: float, *, window: int = 31, min_intervals: int = 5) -> None:
        if nominal_fps <= 0:
            raise ValueError(f"nominal_fps must be positive, got {nominal_fps}")
        if min_intervals < 1 or window < min_intervals:
            raise ValueError("need 1 <= min_intervals <= window")
        self.nominal_fps = nominal_fps
        self._min_intervals = min_intervals
        self._intervals: deque[float] = deque(maxlen=window)
        self._last_ts: float | None = None

    def add(self, ts: float) -> float:
        """Record a frame taken at ``ts`` (seconds); returns the current estimate."""
        if self._last_ts is not None and ts > self._last_ts:
            self._intervals.append(ts - self._last_ts)
        self._last_ts = ts if self._last_ts is None else max(ts, self._last_ts)
        return self.fps

    @property
    def fps(self) -> float:
        """The median-interval rate once enough frames were seen, else the nominal rate."""
        if len(self._intervals) < self._min_intervals:
            return self.nominal_fps
        return 1.0 / max(statistics.median(self._intervals), 1e-3)
