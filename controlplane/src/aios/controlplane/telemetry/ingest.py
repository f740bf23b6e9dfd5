"""The ingest service: MQTT -> bounded queue -> batches -> database -> acknowledgements.

One asyncio task collects messages until ``batch_size`` of them or ``flush_interval`` after the
first one was *received* (its time in the MQTT thread, so time spent waiting while the previous
flush ran counts: a message never waits more than one interval plus one flush), classifies them
(:func:`~aios.controlplane.telemetry.records.classify`), writes them in one transaction
(:class:`~aios.controlplane.telemetry.store.TelemetryStore`, through the error policy of
:class:`~aios.controlplane.telemetry.writer.FlushWriter`) and only then acknowledges them to the
broker. Collecting and classifying the next flush overlaps the commit of the current one
(decoding is CPU in this process, the write mostly waits on the database), with at most one
write in flight, so acknowledgements still follow commits in order. When the database is
unavailable, the same flush is retried with backoff and nothing is acknowledged: the queue fills,
the MQTT thread waits, the broker holds the rest; ingest resumes by itself when the database is
back. When the database refuses a message's data, the flush is bisected and that one
message dead-lettered. Nothing a device sends can crash it or stall it.

Subscriptions: ``det``, ``hb`` and ``status`` of every org/device under the topic prefix; MQTT 5
shared subscriptions (``$share/<group>/...``) so that ``aios ingest`` replicas split the load;
plain subscriptions on the embedded (3.1.1) broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.errors import DatabaseUnavailableError
from aios.controlplane.mqtt.buffer import InboundBuffer
from aios.controlplane.mqtt.subscriber import Inbound, MqttSubscriber
from aios.controlplane.settings import Settings
from aios.controlplane.telemetry.acks import AckTracker
from aios.controlplane.telemetry.records import Accepted, DeadLetterRow, classify
from aios.controlplane.telemetry.store import FlushResult, TelemetryStore
from aios.controlplane.telemetry.writer import FlushWriter, WriteStoppedError
from aios.shared.topics import Channel, subscription

log = logging.getLogger(__name__)

INGESTED_CHANNELS = (
    Channel.DETECTIONS,
    Channel.HEARTBEAT,
    Channel.STATUS,
    Channel.EVENTS,
    Channel.CONFIG_REPORTED,
)
CLASSIFY_SLICE = 16  # messages decoded between two yields to the event loop


@dataclass(slots=True)
class IngestStats(FlushResult):
    """Counters since start (exposed by ``GET /health``): every flush's counters summed, plus
    what only the ingest loop sees."""

    received: int = 0
    flushes: int = 0
    write_errors: int = 0
    refused: int = 0  # messages the database refused, dead-lettered by the bisection
    lost_dead_letters: int = 0
    last_error: str | None = None  # the database's reason, never SQL text or parameters
    last_commit_at: float | None = None  # wall clock of the last committed flush
    restarts: int = 0  # times the ingest loop died and was restarted
    last_failure: str | None = None  # the exception class of the last death (no message)

    def add(self, result: FlushResult) -> None:
        self.flushes += 1
        self.merge(result)


@dataclass(slots=True)
class _Flush:
    """One flush's messages, as received and as classified."""

    items: list[Inbound]
    accepted: list[Accepted] = field(default_factory=list)
    dead: list[DeadLetterRow] = field(default_factory=list)


def subscription_filters(settings: Settings) -> list[str]:
    """The topic filters the ingest subscribes to (shared on MQTT 5)."""
    shared = settings.mqtt_endpoint().protocol == "5"
    group = settings.mqtt_share_group if shared else None
    return [
        subscription(c, prefix=settings.mqtt_topic_prefix, share_group=group)
        for c in INGESTED_CHANNELS
    ]


class IngestService:
    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.stats = IngestStats()
        self.store = TelemetryStore(
            engine,
            auto_register=settings.auto_register_devices,
            webhook_cooldown_s=settings.webhook_cooldown_s,
        )
        self.queue: InboundBuffer[Inbound] = InboundBuffer(settings.ingest_queue_size)
        self.subscriber = MqttSubscriber(
            settings.mqtt_endpoint(),
            client_id=settings.mqtt_client_id,
            filters=subscription_filters(settings),
            queue=self.queue,
            session_expiry_s=settings.mqtt_session_expiry_s,
        )
        # after each commit: tell each device what is stored (end-to-end acknowledgement)
        self.acks = AckTracker(engine, self.subscriber.publish, prefix=settings.mqtt_topic_prefix)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._started_at = time.time()
        self._holding = 0  # messages taken from the queue and not yet acknowledged
        self.writer = FlushWriter(
            self.store, stopping=self._stopping, on_unavailable=self._unavailable
        )
        # called with each committed flush's accepted messages (presence); must not block
        self.observers: list[Callable[[Sequence[Accepted]], None]] = []
        # called with each committed flush's size and the seconds its write took (metrics)
        self.flush_timers: list[Callable[[int, float], None]] = []

    @property
    def mqtt_connected(self) -> bool:
        return self.subscriber.connected

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def failing(self, now: float | None = None) -> str | None:
        """Why the ingest is failing, or ``None``: its task is dead, or it has not committed
        for ``ingest_stall_after_s`` while messages wait. No SQL text, no values."""
        if not self.running:
            return "ingest is not running"
        now = time.time() if now is None else now
        waiting = self.queue.qsize() + self._holding > 0
        last = self.stats.last_commit_at or self._started_at
        if waiting and now - last > self.settings.ingest_stall_after_s:
            return f"ingest has not committed for {now - last:.0f} s while messages wait"
        return None

    async def start(self) -> None:
        self._stopping.clear()
        self._started_at = time.time()
        self._task = asyncio.create_task(self._supervise(), name="aios-ingest")
        await self.subscriber.start()

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish (and acknowledge) the flush in progress, then disconnect."""
        self._stopping.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=timeout)
            if not done:
                log.warning("ingest did not finish its flush in %.0f s; cancelled", timeout)
                self._task.cancel()
                await asyncio.wait({self._task})
            self._task = None
        await self.subscriber.stop()

    async def _supervise(self) -> None:
        """Run the ingest loop; when it dies (a bug: nothing a device sends or the database
        says should kill it), count it, log it and start it again after a short pause. The
        flush it held is unacknowledged, so the broker redelivers it on the next session."""
        pause = 0.5
        while not self._stopping.is_set():
            try:
                await self._run()
                return
            except Exception as exc:
                self._holding = 0  # what the dead loop held is redelivered by the broker
                self.stats.restarts += 1
                self.stats.last_failure = type(exc).__name__
                log.exception("the ingest loop died (restart %d)", self.stats.restarts)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), pause)
            pause = min(pause * 2, 10.0)

    async def _run(self) -> None:
        """Collect and classify the next flush while the previous one commits (a double
        buffer): at most one write is in flight, and it acknowledges its messages before the
        next write starts, so acknowledgements stay in arrival order."""
        in_flight: asyncio.Task[None] | None = None
        try:
            while not self._stopping.is_set():
                items = await self._collect()
                if not items:
                    continue
                self._holding += len(items)
                flush = await self._classify(items)
                if in_flight is not None:
                    await in_flight
                in_flight = asyncio.create_task(self._write(flush), name="aios-ingest-write")
        finally:
            if in_flight is not None:
                await in_flight  # cancelled with this task on a stop timeout: not acknowledged

    async def _collect(self) -> list[Inbound]:
        """Wait for a first message (or stop), then gather until size or time."""
        size = self.settings.ingest_batch_size
        interval = self.settings.ingest_flush_interval_ms / 1000
        items: list[Inbound] = []
        while not items:
            if self._stopping.is_set():
                return items  # an item taken meanwhile is unacknowledged, so redelivered
            if await self.queue.wait(interval):
                items = self.queue.take(size)
        deadline = items[0].received_at + interval  # wall clock, as stamped by the MQTT thread
        while len(items) < size:
            remaining = deadline - time.time()
            if remaining <= 0 or self._stopping.is_set():
                break
            if await self.queue.wait(remaining, items=size - len(items)):
                items.extend(self.queue.take(size - len(items)))
        return items

    async def _classify(self, items: list[Inbound]) -> _Flush:
        """Decode and check ``items``, yielding to the loop every few messages so that the
        write in flight keeps streaming its ``COPY`` meanwhile."""
        self.stats.received += len(items)
        flush = _Flush(items)
        prefix = self.settings.mqtt_topic_prefix
        limit = self.settings.ingest_max_payload_bytes
        for i, item in enumerate(items):
            if i % CLASSIFY_SLICE == CLASSIFY_SLICE - 1:
                await asyncio.sleep(0)
            outcome = classify(item, prefix=prefix, max_bytes=limit)
            if isinstance(outcome, Accepted):
                flush.accepted.append(outcome)
            else:
                flush.dead.append(outcome)
        return flush

    async def _write(self, flush: _Flush) -> None:
        """Commit one flush (retried while the database is unavailable, bisected when it refuses
        a message: :class:`~aios.controlplane.telemetry.writer.FlushWriter`); then tell the
        observers and acknowledge every message of it, dead letters included."""
        started = time.perf_counter()
        try:
            written = await self.writer.write(flush.accepted, flush.dead)
        except WriteStoppedError:
            return  # not acknowledged: the broker redelivers on the next session
        for timer in self.flush_timers:
            timer(len(flush.items), time.perf_counter() - started)
        self.stats.add(written.result)
        self.stats.refused += written.refused
        self.stats.lost_dead_letters += written.lost_dead_letters
        self.stats.last_commit_at = time.time()
        self.stats.last_error = None
        for observe in self.observers:
            try:
                observe(written.stored)
            except Exception:  # an observer's failure never blocks the acknowledgements
                log.exception("ingest observer %r failed", observe)
        await self.acks.after_commit([*written.stored, *written.settled])
        for item in flush.items:
            self.subscriber.ack(item.mid, item.qos)
        self._holding -= len(flush.items)

    def _unavailable(self, exc: DatabaseUnavailableError) -> None:
        self.stats.write_errors += 1
        self.stats.last_error = str(exc)[:500]
