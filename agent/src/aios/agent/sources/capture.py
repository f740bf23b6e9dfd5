"""Capture off the event loop: one thread per stream, reconnect with backoff, state reporting.

The thread opens its :class:`Camera`, pushes frames into a :class:`FrameSlot`, and when the
stream drops (or never opens) it reports ``failed`` with the reason, waits with exponential
backoff (capped, so a returning camera is streaming again within 10 s) and retries. A finite
source (a file) that cannot be opened is not retried: it fails at once, naming the camera.

Outages are kept for the heartbeat: while a stream that had been streaming is down,
``down_since`` is the time of its last frame; once it is back, ``last_gap_s`` is how long it
was without frames and ``reconnects`` counts such returns.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from structlog.contextvars import bind_contextvars

from aios.agent.errors import SourceError
from aios.agent.sources.camera import Camera, StreamState
from aios.agent.sources.frame import Frame
from aios.agent.sources.redaction import scrub
from aios.agent.sources.slot import FrameSlot
from aios.agent.telemetry.rate import RateMeter
from aios.shared.backoff import Backoff

log = logging.getLogger(__name__)


def camera_backoff() -> Backoff:
    """0.5 s doubling to 5 s: a stream whose camera returns is retried, and back, within 10 s."""
    return Backoff(initial=0.5, cap=5.0)


@dataclass(frozen=True, slots=True)
class StreamStatus:
    stream_id: str
    state: StreamState
    fps: float
    dropped: int
    error: str | None
    reconnects: int = 0
    down_since: float | None = None
    last_gap_s: float | None = None


class CaptureWorker:
    """Runs ``camera`` in a daemon thread and hands the newest frame to :meth:`next_frame`."""

    def __init__(
        self,
        stream_id: str,
        camera: Camera,
        *,
        backoff: Backoff | None = None,
        on_state: Callable[[StreamStatus], None] | None = None,
    ) -> None:
        self.stream_id = stream_id
        self._camera = camera
        self._backoff = backoff or camera_backoff()
        self._on_state = on_state
        self._stop = threading.Event()
        self._opened = threading.Event()
        self._thread: threading.Thread | None = None
        self._slot: FrameSlot | None = None
        self._state = StreamState.STOPPED
        self._error: str | None = None
        self._fatal: str | None = None
        self._rate = RateMeter()
        self._index = 0
        self._failed_attempts = 0
        self._last_frame_at: float | None = None
        self._down_since: float | None = None
        self._last_gap_s: float | None = None
        self._reconnects = 0

    @property
    def name(self) -> str:
        return self._camera.name

    @property
    def live(self) -> bool:
        return self._camera.live

    @property
    def opened(self) -> bool:
        """The camera has delivered a frame at least once."""
        return self._opened.is_set()

    @property
    def failed_attempts(self) -> int:
        """Connection attempts (or streams) that failed so far."""
        return self._failed_attempts

    @property
    def fatal(self) -> str | None:
        """Why a finite source gave up for good, if it did."""
        return self._fatal

    def open_failure(self, timeout_s: float) -> str:
        reason = self._error or "no frames"
        return (
            f"camera {self.stream_id!r} ({self._camera.name}) did not open within "
            f"{timeout_s:g} s: {reason}"
        )

    # -- control (event loop side) -------------------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._slot = FrameSlot(loop, overwrite=self._camera.live)
        self._stop.clear()
        # The thread logs in a copy of this context (the device) with its stream bound.
        context = contextvars.copy_context()
        context.run(bind_contextvars, stream=self.stream_id)
        self._thread = threading.Thread(
            target=context.run, args=(self._run,), name=f"capture-{self.stream_id}", daemon=True
        )
        self._thread.start()

    async def wait_open(self, timeout_s: float) -> None:
        """Wait until the camera has opened once; raise :class:`SourceError` naming it if not."""
        deadline = time.monotonic() + timeout_s
        while not self._opened.is_set():
            if self._fatal is not None:
                raise SourceError(self._fatal)
            if time.monotonic() >= deadline:
                raise SourceError(self.open_failure(timeout_s))
            await asyncio.sleep(0.05)

    async def next_frame(self) -> Frame | None:
        """The newest frame; ``None`` when the stream has ended or the worker was stopped."""
        if self._slot is None:
            raise RuntimeError("CaptureWorker.start() was not called")
        return await self._slot.get()

    async def stop(self) -> None:
        self._stop.set()
        if self._slot is not None:
            self._slot.close()
        thread = self._thread
        if thread is not None:
            await asyncio.to_thread(thread.join, 5.0)
        self._thread = None

    def status(self) -> StreamStatus:
        return StreamStatus(
            stream_id=self.stream_id,
            state=self._state,
            fps=round(self._rate.rate(), 2),
            dropped=self._slot.dropped if self._slot is not None else 0,
            error=self._error,
            reconnects=self._reconnects,
            down_since=self._down_since,
            last_gap_s=self._last_gap_s,
        )

    # -- capture thread ------------------------------------------------------------------------
    def _set_state(self, state: StreamState, error: str | None = None) -> None:
        error = scrub(error) if error else error
        if state == self._state and error == self._error:
            return
        self._state, self._error = state, error
        if state == StreamState.FAILED:
            self._failed_attempts += 1
            if self._down_since is None and self._last_frame_at is not None:
                self._down_since = self._last_frame_at
            log.warning("stream %s failed: %s", self.stream_id, error)
        else:
            log.info("stream %s is %s", self.stream_id, state.value)
        if self._on_state is not None:
            self._on_state(self.status())

    def _run(self) -> None:
        slot = self._slot
        assert slot is not None
        try:
            while not self._stop.is_set():
                self._set_state(StreamState.CONNECTING, self._error)
                try:
                    self._camera.open()
                except SourceError as exc:
                    if not self._camera.live:
                        self._fatal = f"camera {self.stream_id!r}: {exc}"
                        self._set_state(StreamState.FAILED, str(exc))
                        return
                    self._set_state(StreamState.FAILED, str(exc))
                    self._stop.wait(self._backoff.next_delay())
                    continue
                ended = self._stream(slot)
                self._camera.close()
                if ended:
                    return
                self._stop.wait(self._backoff.next_delay())
        finally:
            self._camera.close()
            slot.close()
            if self._fatal is None:
                self._set_state(StreamState.STOPPED)

    def _stream(self, slot: FrameSlot) -> bool:
        """Push frames until the stream drops (False) or ends / is stopped (True)."""
        while not self._stop.is_set():
            try:
                image = self._camera.read()
            except SourceError as exc:
                self._set_state(StreamState.FAILED, str(exc))
                return False
            if image is None:
                if self._camera.live:
                    self._set_state(StreamState.FAILED, "stream ended")
                    return False
                return True
            now = time.time()
            if not self._opened.is_set() or self._state != StreamState.STREAMING:
                if self._down_since is not None:
                    self._last_gap_s = round(now - self._down_since, 3)
                    self._down_since = None
                    self._reconnects += 1
                self._opened.set()
                self._backoff.reset()
                self._set_state(StreamState.STREAMING)
            self._last_frame_at = now
            self._rate.tick()
            frame = Frame(image=image, ts=now, index=self._index)
            self._index += 1
            if not slot.put(frame):
                return True
        return True


async def wait_streams_open(workers: Sequence[CaptureWorker], timeout_s: float) -> list[str]:
    """Wait for a pipeline's cameras to open; why the live ones it runs without did not.

    Every finite source must open (one that cannot raises at once). Live cameras need not all
    answer: once at least one camera streams and every live camera still closed has failed an
    attempt, the pipeline runs and those keep retrying in their threads, reported ``failed``
    in the heartbeat. If no camera opens within ``timeout_s``, :class:`SourceError` names the
    first that did not. Returns the messages for the live cameras left behind.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        for worker in workers:
            if worker.fatal is not None:
                raise SourceError(worker.fatal)
        closed = [w for w in workers if not w.opened]
        if not closed:
            return []
        some_streaming = len(closed) < len(workers)
        only_live_left = all(w.live for w in closed)
        tried = all(w.failed_attempts > 0 for w in closed) or time.monotonic() >= deadline
        if some_streaming and only_live_left and tried:
            return [
                f"camera {w.stream_id!r} ({w.name}) is not streaming: "
                f"{w.status().error or 'no frames'}"
                for w in closed
            ]
        if time.monotonic() >= deadline:
            raise SourceError(closed[0].open_failure(timeout_s))
        await asyncio.sleep(0.05)
