"""What the live OpenCV cameras (USB, RTSP) share once open: reading a frame and closing."""

from __future__ import annotations

from abc import ABC, abstractmethod

import cv2
import numpy as np
import numpy.typing as npt

from aios.agent.errors import SourceError


class OpenCvCamera(ABC):
    """A live camera read through ``cv2.VideoCapture``; subclasses open ``_cap`` and name it."""

    live = True

    def __init__(self) -> None:
        self._cap: cv2.VideoCapture | None = None

    @property
    @abstractmethod
    def name(self) -> str: ...

    def read(self) -> npt.NDArray[np.uint8] | None:
        """The next frame (contiguous BGR), or ``None`` when the stream gave none."""
        if self._cap is None:
            raise SourceError(f"{self.name} is not open")
        ok, image = self._cap.read()
        if not ok or image is None:
            return None
        return np.ascontiguousarray(image, dtype=np.uint8)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
