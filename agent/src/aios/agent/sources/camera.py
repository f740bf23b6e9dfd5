"""The interface every camera kind implements, and the state a stream reports.

A :class:`Camera` is a blocking reader used only from its capture thread
(:mod:`aios.agent.sources.capture`): ``open`` connects (raising :class:`SourceError` with a
reason), ``read`` returns the next image or ``None`` at the end of a finite stream, and
``close`` releases it. Pacing to a file's frame rate belongs to the camera; retries and
backoff do not.
"""

from __future__ import annotations

import enum
from typing import Protocol

import numpy as np
import numpy.typing as npt


class StreamState(str, enum.Enum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    FAILED = "failed"
    STOPPED = "stopped"


class Camera(Protocol):
    """A blocking frame reader. ``name`` identifies it in messages (never credentials)."""

    @property
    def name(self) -> str: ...

    @property
    def live(self) -> bool:
        """Live cameras drop stale frames; finite files may apply backpressure instead."""
        ...

    def open(self) -> None: ...

    def read(self) -> npt.NDArray[np.uint8] | None: ...

    def close(self) -> None: ...
