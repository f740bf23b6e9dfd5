"""Rates and latency percentiles over a sliding window, cheap enough for every frame."""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np


class RateMeter:
    """Events per second over the last ``window_s`` seconds (thread-safe)."""

    def __init__(self, window_s: float = 5.0) -> None:
        self._window_s = window_s
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()

    def tick(self, now: float | None = None) -> None:
        t = time.monotonic() if now is None else now
        with self._lock:
            self._stamps.append(t)
            self._trim(t)

    def rate(self, now: float | None = None) -> float:
        t = time.monotonic() if now is None else now
        with self._lock:
            self._trim(t)
            if len(self._stamps) < 2:
                return 0.0
            span = max(self._stamps[-1] - self._stamps[0], 1e-6)
            return (len(self._stamps) - 1) / span

    def _trim(self, now: float) -> None:
        while self._stamps and now - self._stamps[0] > self._window_s:
            self._stamps.popleft()


class LatencyWindow:
    """The last ``size`` durations in milliseconds, with percentiles (thread-safe)."""

    def __init__(self, size: int = 256) -> None:
        self._values: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, ms: float) -> None:
        with self._lock:
            self._values.append(ms)

    def percentile(self, q: float) -> float | None:
        with self._lock:
            if not self._values:
                return None
            return float(np.percentile(np.fromiter(self._values, np.float64), q))

    def __len__(self) -> int:
        return len(self._values)


class IntervalLatency(LatencyWindow):
    """Durations in milliseconds since the last :meth:`take` (the newest ``size`` kept), for
    percentiles over one heartbeat interval (thread-safe)."""

    def __init__(self, size: int = 4096) -> None:
        super().__init__(size)

    def take(self) -> tuple[float, float] | None:
        """``(p50, p95)`` of the durations since the previous call (which are then forgotten),
        or ``None`` when there were none."""
        with self._lock:
            values, self._values = self._values, deque(maxlen=self._values.maxlen)
        if not values:
            return None
        p50, p95 = np.percentile(np.fromiter(values, np.float64), (50, 95))
        return float(p50), float(p95)
