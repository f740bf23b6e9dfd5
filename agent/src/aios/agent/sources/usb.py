"""A USB/V4L2 camera: ``/dev/videoN`` or a device index such as ``0``."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import numpy.typing as npt

from aios.agent.errors import SourceError


class UsbCamera:
    live = True

    def __init__(self, device: str, *, width: int | None = None, height: int | None = None) -> None:
        self._device = device
        self._width = width
        self._height = height
        self._cap: cv2.VideoCapture | None = None

    @property
    def name(self) -> str:
        return f"usb {self._device}"

    def open(self) -> None:
        target: int | str = int(self._device) if self._device.isdigit() else self._device
        backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        try:
            cap = cv2.VideoCapture(target, backend)
        except cv2.error as exc:
            raise SourceError(f"cannot open {self.name}: {exc}") from None
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open {self.name} (not present or busy)")
        if self._width is not None:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self._width)
        if self._height is not None:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self._height)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap = cap

    def read(self) -> npt.NDArray[np.uint8] | None:
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
