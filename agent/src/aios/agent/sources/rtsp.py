"""An RTSP camera through OpenCV's FFmpeg backend (TCP transport, bounded timeouts)."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np
import numpy.typing as npt

from aios.agent.errors import SourceError


def redact(uri: str) -> str:
    """``uri`` without its password, for logs and reports."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class RtspCamera:
    live = True

    def __init__(self, uri: str, *, timeout_s: float = 5.0) -> None:
        self._uri = uri
        self._timeout_ms = int(timeout_s * 1000)
        self._cap: cv2.VideoCapture | None = None

    @property
    def name(self) -> str:
        return redact(self._uri)

    def open(self) -> None:
        os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
        try:
            cap = cv2.VideoCapture(
                self._uri,
                cv2.CAP_FFMPEG,
                [
                    cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                    self._timeout_ms,
                    cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                    self._timeout_ms,
                ],
            )
        except cv2.error as exc:
            raise SourceError(f"cannot open {self.name}: {exc}") from None
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot connect to {self.name}")
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
