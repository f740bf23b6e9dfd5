"""A one-slot frame buffer between a capture thread and the asyncio loop.

Live cameras overwrite the slot (latest-frame semantics: a slow detector never builds a
backlog, and every overwritten frame is counted as dropped). Finite sources may instead block
the capture thread until the frame is taken, so a file processed as fast as possible loses
nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from aios.agent.sources.frame import Frame


class FrameSlot:
    def __init__(self, loop: asyncio.AbstractEventLoop, *, overwrite: bool = True) -> None:
        self._loop = loop
        self._overwrite = overwrite
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._closed = False
        self._event = asyncio.Event()
        self.dropped = 0

    def put(self, frame: Frame) -> bool:
        """Called from the capture thread. Returns False once the slot is closed."""
        with self._cond:
            if not self._overwrite:
                while self._frame is not None and not self._closed:
                    self._cond.wait(0.1)
            if self._closed:
                return False
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
        self._wake()
        return True

    def close(self) -> None:
        """No more frames: wakes the consumer, which then gets ``None``."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._wake()

    def _wake(self) -> None:
        # RuntimeError: the loop is closed, so nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._event.set)

    async def get(self) -> Frame | None:
        """The newest frame, waiting for one; ``None`` when closed and empty."""
        while True:
            self._event.clear()
            with self._cond:
                frame, self._frame = self._frame, None
                if frame is not None:
                    self._cond.notify_all()
                    return frame
                if self._closed:
                    return None
            await self._event.wait()
