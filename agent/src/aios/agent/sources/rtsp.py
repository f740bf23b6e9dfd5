"""An RTSP camera through OpenCV's FFmpeg backend (TCP or UDP transport, bounded timeouts).

Two process-wide facts of OpenCV shape this module:

- by default OpenCV serialises every FFmpeg ``open`` behind one global lock, so a camera that
  never answers would hold every other camera's (re)connection for its whole open timeout.
  FFmpeg's own open is thread-safe, so ``OPENCV_FFMPEG_IS_THREAD_SAFE=1`` lifts that lock;
- FFmpeg options (the RTSP transport) can only be passed through the environment
  (``OPENCV_FFMPEG_CAPTURE_OPTIONS``), which OpenCV reads at the start of each open. One camera
  at a time sets it (:class:`_OptionsGate`), and lets the next one in as soon as its own open
  has read it, not when the open returns.

Credentials in the URI never leave this module in clear: :attr:`RtspCamera.name` and every error
message are passed through :func:`redact`.
"""

from __future__ import annotations

import os
import threading
from typing import Literal

import cv2

from aios.agent.errors import SourceError
from aios.agent.sources.opencv_camera import OpenCvCamera
from aios.agent.sources.redaction import redact, scrub

Transport = Literal["tcp", "udp"]


class _Pass:
    """One camera's turn at the gate: released once, by its timer or by its open returning."""

    def __init__(self, lock: threading.Lock, hold_s: float) -> None:
        self._lock = lock
        self._guard = threading.Lock()
        self._released = False
        self._timer = threading.Timer(hold_s, self.release)
        self._timer.daemon = True
        self._timer.start()

    def release(self) -> None:
        with self._guard:
            if not self._released:
                self._released = True
                self._timer.cancel()
                self._lock.release()


class _OptionsGate:
    """Serialises setting FFmpeg's options in the environment and OpenCV reading them.

    :meth:`enter` takes the gate and sets the options; the next camera gets in after
    ``hold_s`` (OpenCV has read them by then: it does so before any network I/O) or when the
    pass is released (the open returned), whichever comes first.
    """

    def __init__(self, hold_s: float = 0.25) -> None:
        self._lock = threading.Lock()
        self._hold_s = hold_s

    def enter(self, options: str) -> _Pass:
        self._lock.acquire()
        os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = options
        return _Pass(self._lock, self._hold_s)


_GATE = _OptionsGate()


def _allow_parallel_opens() -> None:
    os.environ.setdefault("OPENCV_FFMPEG_IS_THREAD_SAFE", "1")
    os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")


class RtspCamera(OpenCvCamera):
    def __init__(self, uri: str, *, transport: Transport = "tcp", timeout_s: float = 5.0) -> None:
        super().__init__()
        self._uri = uri
        self._transport = transport
        self._timeout_ms = int(timeout_s * 1000)
        _allow_parallel_opens()

    @property
    def name(self) -> str:
        return redact(self._uri)

    @property
    def transport(self) -> Transport:
        return self._transport

    def open(self) -> None:
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            self._timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            self._timeout_ms,
        ]
        turn = _GATE.enter(f"rtsp_transport;{self._transport}")
        try:
            cap = cv2.VideoCapture(self._uri, cv2.CAP_FFMPEG, params)
        except cv2.error as exc:
            raise SourceError(f"cannot open {self.name}: {scrub(str(exc))}") from None
        finally:
            turn.release()
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot connect to {self.name} over {self._transport.upper()}")
        self._cap = cap
