"""The bounded hand-off between the MQTT client's network thread and the ingest's event loop.

:class:`InboundBuffer` is a ``deque`` under a lock. The paho thread appends (:meth:`put` waits
for room: that wait is the backpressure on QoS 1; :meth:`offer` drops when full: QoS 0) and
wakes the loop with one ``call_soon_threadsafe`` per *burst*: only when no wake-up is already
pending, not once per message. The loop side drains many items per call (:meth:`take`) and
waits with :meth:`wait`. Per message this costs one lock round and one ``append``, instead of
a coroutine, a task and a cross-thread future (``run_coroutine_threadsafe(queue.put(...))``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class InboundBuffer(Generic[T]):
    """Thread-safe bounded FIFO: producers in any thread, one consumer in the event loop."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._not_full = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: asyncio.Event | None = None
        self._wake_pending = False
        self._want = 1  # wake the consumer once this many items are there

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach the consumer's loop (call from that loop, before the first :meth:`wait`)."""
        self._loop = loop
        self._ready = asyncio.Event()
        if self._items:
            self._ready.set()

    def qsize(self) -> int:
        return len(self._items)

    # --- producer side (any thread) ----------------------------------------------------------

    def put(self, item: T, *, cancelled: Callable[[], bool], poll_s: float = 0.5) -> bool:
        """Append ``item``, waiting while full; False (not appended) once ``cancelled()``."""
        with self._not_full:
            while len(self._items) >= self.maxsize:
                if cancelled():
                    return False
                self._not_full.wait(poll_s)
            self._items.append(item)
            wake = self._arm()
        if wake:
            self._wake_loop()
        return True

    def offer(self, item: T) -> bool:
        """Append ``item`` unless full (no wait); whether it was appended."""
        with self._lock:
            if len(self._items) >= self.maxsize:
                return False
            self._items.append(item)
            wake = self._arm()
        if wake:
            self._wake_loop()
        return True

    def _arm(self) -> bool:  # under the lock: one wake-up per burst
        if self._wake_pending or len(self._items) < self._want:
            return False
        self._wake_pending = True
        return True

    def _wake_loop(self) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # loop closed: nobody consumes any more
            loop.call_soon_threadsafe(self._wake)

    # --- consumer side (the event loop) ------------------------------------------------------

    def _wake(self) -> None:
        with self._lock:
            self._wake_pending = False
        if self._ready is not None:
            self._ready.set()

    def take(self, n: int) -> list[T]:
        """Up to ``n`` items, oldest first, without waiting."""
        with self._not_full:
            k = min(n, len(self._items))
            out = [self._items.popleft() for _ in range(k)]
            if k:
                self._not_full.notify_all()
            if not self._items and self._ready is not None:
                self._ready.clear()
        return out

    async def wait(self, timeout: float | None = None, *, items: int = 1) -> bool:
        """Wait until ``items`` items are there (at most ``timeout`` seconds); whether at least
        one is. The producer wakes the loop only once that many are there, so a consumer that
        is filling a batch is not woken once per message."""
        ready = self._ready
        if ready is None:
            raise RuntimeError("InboundBuffer.bind() was not called")
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        items = max(1, min(items, self.maxsize))
        while True:
            with self._lock:
                if len(self._items) >= items:
                    self._want = 1
                    return True
                # a wake-up already scheduled still sets the event after this: none is lost
                ready.clear()
                self._want = items
            remaining = None if deadline is None else deadline - loop.time()
            try:
                if remaining is not None and remaining <= 0:
                    raise TimeoutError
                await asyncio.wait_for(ready.wait(), remaining)
            except TimeoutError:
                with self._lock:
                    self._want = 1
                    return bool(self._items)
