"""A USB/V4L2 camera: ``/dev/videoN`` or a device index such as ``0``."""

from __future__ import annotations

import sys

import cv2

from aios.agent.errors import SourceError
from aios.agent.sources.opencv_camera import OpenCvCamera


class UsbCamera(OpenCvCamera):
    def __init__(self, device: str, *, width: int | None = None, height: int | None = None) -> None:
        super().__init__()
        self._device = device
        self._width = width
        self._height = height

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
