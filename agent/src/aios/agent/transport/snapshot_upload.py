"""Event snapshots: boxes drawn on the frame, JPEG-encoded and uploaded over HTTP to the
control plane by one worker thread (never over MQTT, never on the event loop).

``PUT {control_plane}/api/v1/events/{event_id}/snapshot`` with ``Content-Type: image/jpeg``
and HTTP Basic auth (the device id and its enrollment password). The event references the
snapshot by a deterministic key, ``snapshots/{device_id}/{event_id}.jpg``, so the event is
sent at once and never waits for the upload. The queue is bounded: when it is full a
snapshot is dropped (counted) and its event goes out without one. Server errors and network
failures are retried with exponential backoff; other 4xx answers are not. urllib errors are
translated here.

The control plane accepts a snapshot only for an event it has already stored (it answers 425
"too early" before), and the upload races the event (which goes through the spool and MQTT,
and may wait there while the broker is unreachable). So a snapshot still refused after the
quick retries is kept, encoded, and tried again later with a growing delay (capped at
``max_delay_s``) for up to ``pending_s``; at most ``max_pending`` wait at a time (beyond, the
oldest is given up, counted as failed). Both delays follow :mod:`aios.shared.backoff`.
:attr:`UploadStats.keys` holds the last :data:`RECENT_KEYS` keys uploaded, not all of them.
"""

from __future__ import annotations

import base64
import contextlib
import heapq
import itertools
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from aios.agent.analytics.drawing import annotate, encode_jpeg
from aios.agent.analytics.zones import PolygonZone
from aios.agent.detections import Detections
from aios.agent.errors import AgentError
from aios.shared.backoff import Backoff, exponential_delay

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})

RECENT_KEYS = 64
"""Uploaded snapshot keys kept in :attr:`UploadStats.keys` (the most recent)."""


@dataclass(frozen=True, slots=True)
class SnapshotJob:
    event_id: str
    key: str
    image: npt.NDArray[np.uint8]
    detections: Detections
    zones: Sequence[PolygonZone] = ()
    labels: Sequence[str] = ()


@dataclass(order=True, slots=True)
class _Pending:
    """A snapshot waiting to be tried again (ordered by when)."""

    due: float
    order: int
    event_id: str = field(compare=False)
    key: str = field(compare=False)
    body: bytes = field(compare=False, repr=False)
    since: float = field(compare=False)
    tries_later: int = field(default=0, compare=False)
    """Tries made since it was kept for later."""


@dataclass(slots=True)
class UploadStats:
    uploaded: int = 0
    failed: int = 0
    dropped: int = 0
    retries: int = 0
    deferred: int = 0
    last_error: str | None = None
    keys: deque[str] = field(default_factory=lambda: deque(maxlen=RECENT_KEYS))
    """The keys of the last snapshots uploaded, oldest first."""


class SnapshotSink(Protocol):
    """What the events sink needs: hand over a frame, get the key the event references."""

    def submit(
        self,
        event_id: str,
        image: npt.NDArray[np.uint8],
        detections: Detections,
        *,
        zones: Sequence[PolygonZone] = (),
        labels: Sequence[str] = (),
    ) -> str | None: ...


class UploadError(AgentError):
    """A snapshot upload failed; ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class SnapshotUploader:
    def __init__(
        self,
        base_url: str,
        *,
        device_id: str,
        password: str | None,
        max_queue: int = 16,
        attempts: int = 4,
        backoff_s: float = 0.5,
        timeout_s: float = 10.0,
        quality: int = 80,
        pending_s: float = 900.0,
        max_pending: int = 64,
        later_s: float = 2.0,
        max_delay_s: float = 60.0,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._device_id = device_id
        self._auth = (
            "Basic " + base64.b64encode(f"{device_id}:{password}".encode()).decode("ascii")
            if password is not None
            else None
        )
        self._queue: queue.Queue[SnapshotJob | None] = queue.Queue(maxsize=max_queue)
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._timeout_s = timeout_s
        self._quality = quality
        self._pending_s = pending_s
        self._max_pending = max_pending
        self._later_s = later_s
        self._max_delay_s = max_delay_s
        self._later: list[_Pending] = []  # a heap, worker thread only
        self._order = itertools.count()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = UploadStats()

    def key_for(self, event_id: str) -> str:
        return f"snapshots/{self._device_id}/{event_id}.jpg"

    def url_for(self, event_id: str) -> str:
        return f"{self._base}/api/v1/events/{event_id}/snapshot"

    def start(self) -> None:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._work, name="snapshot-upload", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Finish what is queued within ``timeout_s``, then stop the worker."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        deadline = time.monotonic() + timeout_s
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout_s)
        thread.join(max(0.0, deadline - time.monotonic()))
        self._stopping.set()  # cuts retry back-off short if it is still running
        thread.join(1.0)

    def submit(
        self,
        event_id: str,
        image: npt.NDArray[np.uint8],
        detections: Detections,
        *,
        zones: Sequence[PolygonZone] = (),
        labels: Sequence[str] = (),
    ) -> str | None:
        """Queue a snapshot (the image is copied); its key, or ``None`` if the queue is full."""
        key = self.key_for(event_id)
        job = SnapshotJob(event_id, key, image.copy(), detections, tuple(zones), tuple(labels))
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.stats.dropped += 1
            log.warning("snapshot queue full: event %s goes without a snapshot", event_id)
            return None
        return key

    def _work(self) -> None:
        while True:
            try:
                job = self._queue.get(timeout=self._until_due())
            except queue.Empty:
                self._retry_due()
                continue
            if job is None:
                self._give_up_pending()
                return
            try:
                body = encode_jpeg(
                    annotate(job.image, job.detections, zones=job.zones, labels=job.labels),
                    self._quality,
                )
            except AgentError as exc:
                self._failed(job.event_id, exc)
            else:
                now = time.monotonic()
                self._attempt(_Pending(now, 0, job.event_id, job.key, body, now))
            self._retry_due()

    def _until_due(self) -> float | None:
        if not self._later:
            return None
        return max(0.0, self._later[0].due - time.monotonic())

    def _retry_due(self) -> None:
        while self._later and self._later[0].due <= time.monotonic():
            if self._stopping.is_set():
                return
            self._attempt(heapq.heappop(self._later), quick_retries=False)

    def _attempt(self, item: _Pending, *, quick_retries: bool = True) -> None:
        """Upload ``item`` (with the quick retries the first time, once when it was kept);
        keep it for later if it may still succeed."""
        try:
            if quick_retries:
                self._upload_with_retries(item.event_id, item.body)
            else:
                self.upload(item.event_id, item.body)
        except UploadError as exc:
            now = time.monotonic()
            if not exc.retryable or now - item.since >= self._pending_s:
                self._failed(item.event_id, exc)
                return
            if len(self._later) >= self._max_pending:  # give up the oldest waiting
                oldest = min(self._later, key=lambda p: p.since)
                self._later.remove(oldest)
                heapq.heapify(self._later)
                self._failed(oldest.event_id, UploadError("too many waiting", retryable=False))
            delay = exponential_delay(
                item.tries_later, initial=self._later_s, cap=self._max_delay_s
            )
            item.due = now + delay
            item.order = next(self._order)
            item.tries_later += 1
            heapq.heappush(self._later, item)
            self.stats.deferred += 1
            log.info("snapshot of event %s deferred: %s", item.event_id, exc)
        else:
            self.stats.uploaded += 1
            self.stats.keys.append(item.key)

    def _failed(self, event_id: str, exc: AgentError) -> None:
        self.stats.failed += 1
        self.stats.last_error = str(exc)
        log.warning("snapshot of event %s not uploaded: %s", event_id, exc)

    def _give_up_pending(self) -> None:
        for item in self._later:
            self._failed(item.event_id, UploadError("agent stopping", retryable=False))
        self._later.clear()

    def _upload_with_retries(self, event_id: str, body: bytes) -> None:
        backoff = Backoff(initial=self._backoff_s, cap=self._max_delay_s, jitter=0.0)
        for attempt in range(1, self._attempts + 1):
            try:
                self.upload(event_id, body)
                return
            except UploadError as exc:
                if not exc.retryable or attempt == self._attempts:
                    raise
                self.stats.retries += 1
                if self._stopping.wait(backoff.next_delay()):
                    raise

    def upload(self, event_id: str, body: bytes) -> None:
        """One PUT of the JPEG ``body``; raises :class:`UploadError`."""
        headers = {"Content-Type": "image/jpeg", "X-AIOS-Device": self._device_id}
        if self._auth is not None:
            headers["Authorization"] = self._auth
        request = urllib.request.Request(
            self.url_for(event_id), data=body, method="PUT", headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                response.read(4096)
        except urllib.error.HTTPError as exc:
            raise UploadError(
                f"HTTP {exc.code} from {self._base}", retryable=exc.code in RETRYABLE_STATUS
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UploadError(f"cannot reach {self._base}: {reason}", retryable=True) from None
