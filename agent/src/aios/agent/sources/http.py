"""An HTTP MJPEG camera (``multipart/x-mixed-replace``), read with the standard library.

JPEG frames are cut from the byte stream by their start/end markers, which works whatever
boundary string or part headers the camera sends; a single JPEG snapshot URL works too
(re-fetched per frame).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from http.client import HTTPResponse

import cv2
import numpy as np
import numpy.typing as npt

from aios.agent.errors import SourceError
from aios.agent.sources.redaction import redact

_SOI = b"\xff\xd8"
_EOI = b"\xff\xd9"
MAX_FRAME_BYTES = 16 * 1024 * 1024


class HttpMjpegCamera:
    live = True

    def __init__(self, uri: str, *, timeout_s: float = 5.0) -> None:
        self._uri = uri
        self._timeout_s = timeout_s
        self._response: HTTPResponse | None = None
        self._buffer = bytearray()
        self._multipart = True

    @property
    def name(self) -> str:
        return redact(self._uri)

    def open(self) -> None:
        try:
            response = urllib.request.urlopen(self._uri, timeout=self._timeout_s)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise SourceError(f"cannot connect to {self.name}: {exc}") from None
        content_type = response.headers.get("Content-Type", "")
        self._multipart = content_type.startswith("multipart/")
        self._response = response
        self._buffer.clear()

    def read(self) -> npt.NDArray[np.uint8] | None:
        if self._response is None:
            if self._multipart:
                raise SourceError(f"{self.name} is not open")
            self.open()
        jpeg = self._next_jpeg()
        if jpeg is None:
            return None
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise SourceError(f"{self.name} sent a frame that is not a JPEG")
        if not self._multipart:
            self.close()
        return np.ascontiguousarray(image, dtype=np.uint8)

    def _next_jpeg(self) -> bytes | None:
        response = self._response
        assert response is not None
        while True:
            start = self._buffer.find(_SOI)
            if start >= 0:
                end = self._buffer.find(_EOI, start + 2)
                if end >= 0:
                    jpeg = bytes(self._buffer[start : end + 2])
                    del self._buffer[: end + 2]
                    return jpeg
                if start > 0:
                    del self._buffer[:start]
            elif len(self._buffer) > 1:
                del self._buffer[:-1]
            if len(self._buffer) > MAX_FRAME_BYTES:
                raise SourceError(f"{self.name}: frame larger than {MAX_FRAME_BYTES} bytes")
            try:
                chunk = response.read1(65536)
            except (OSError, ValueError) as exc:
                raise SourceError(f"{self.name}: connection lost: {exc}") from None
            if not chunk:
                return None
            self._buffer.extend(chunk)

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None
