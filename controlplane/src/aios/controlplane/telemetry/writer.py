"""How the ingest commits a flush whatever the database says: retry, bisect, dead-letter.

:class:`FlushWriter` applies the storage error policy
(:mod:`aios.controlplane.db.storage.failures`) to one flush:

- the database is *unavailable*: the same rows are retried with capped exponential backoff, and
  nothing is acknowledged meanwhile (the queue fills, the broker holds the rest);
- the database *refused the data*: the flush is split in two halves, each written in its own
  transaction, recursively, until the message that fails alone is found. That message becomes a
  ``storage_refused`` dead letter carrying the database's reason, the good messages around it
  are stored, and the whole flush is then acknowledged (to the broker, and end to end to the
  agent: a refused batch's seq counts as received, so the agent does not send it again). A
  poison message therefore costs one
  dead letter and about ``2 log2(n)`` extra transactions, never a stall, and valid traffic of
  the same device and of other organizations keeps flowing.

Messages the contract rejects never reach this point; the bisection is the second line, for a
value the contract let through and one backend still refuses. Writes are idempotent (batches on
``(device_id, seq)``, events merged, reports on their key), so halves committed before a stop
and written again after redelivery are stored once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from structlog.contextvars import bound_contextvars

from aios.controlplane.errors import (
    BatchRefusedError,
    ControlPlaneError,
    DatabaseUnavailableError,
)
from aios.controlplane.telemetry.records import Accepted, DeadLetterRow, IngestReason
from aios.controlplane.telemetry.store import FlushResult, TelemetryStore
from aios.shared.backoff import Backoff
from aios.shared.messages import DetectionBatch

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 10.0
FIRST_BACKOFF_S = 0.2


class WriteStoppedError(ControlPlaneError):
    """The service is stopping while the database is unavailable: the flush is not committed
    (and so not acknowledged; the broker redelivers it)."""


@dataclass(slots=True)
class Written:
    """What one flush became once committed."""

    result: FlushResult = field(default_factory=FlushResult)
    stored: list[Accepted] = field(default_factory=list)  # accepted and committed
    refused: int = 0  # messages the database refused, now dead letters
    settled: list[Accepted] = field(default_factory=list)  # those messages: acknowledged too
    lost_dead_letters: int = 0  # dead letters the database refused even stripped (logged)


class FlushWriter:
    """Commits flushes with the storage error policy (see the module docstring)."""

    def __init__(
        self,
        store: TelemetryStore,
        *,
        stopping: asyncio.Event,
        on_unavailable: Callable[[DatabaseUnavailableError], None] = lambda _: None,
        max_backoff_s: float = MAX_BACKOFF_S,
    ) -> None:
        self.store = store
        self._stopping = stopping
        self._on_unavailable = on_unavailable
        self._max_backoff = max_backoff_s

    async def write(self, accepted: Sequence[Accepted], dead: Sequence[DeadLetterRow]) -> Written:
        """Commit the flush (raises :class:`WriteStoppedError` if stopped before it could)."""
        out = Written()
        await self._write_or_split(list(accepted), list(dead), out)
        return out

    async def _write_or_split(
        self, accepted: list[Accepted], dead: list[DeadLetterRow], out: Written
    ) -> None:
        try:
            out.result.merge(await self._retrying(accepted, dead))
            out.stored.extend(accepted)
            return
        except BatchRefusedError as exc:
            refusal = exc
        units: list[Accepted | DeadLetterRow] = [*accepted, *dead]
        if len(units) > 1:
            half = len(units) // 2
            for part in (units[:half], units[half:]):
                await self._write_or_split(
                    [u for u in part if isinstance(u, Accepted)],
                    [u for u in part if isinstance(u, DeadLetterRow)],
                    out,
                )
            return
        if accepted:  # one message the database refuses: it becomes a dead letter
            (a,) = accepted
            with bound_contextvars(org_id=a.org_id, device_id=a.device_id):
                log.warning("dead-lettered a message the database refused: %s", refusal.reason)
            out.refused += 1
            out.settled.append(a)
            letter = replace(
                DeadLetterRow.of(
                    a.source,
                    IngestReason.STORAGE_REFUSED,
                    refusal.reason,
                    org_id=a.org_id,
                    device_id=a.device_id,
                ),
                settles_seq=a.message.seq if isinstance(a.message, DetectionBatch) else None,
            )
            await self._write_or_split([], [letter], out)
            return
        (letter,) = dead  # a dead letter refused: keep what can be kept of it
        stripped = replace(letter, org_id=None, device_id=None, payload=b"", topic="")
        if stripped == letter:
            out.lost_dead_letters += 1
            log.error("the database refused a dead letter (%s): dropped", refusal.reason)
            return
        await self._write_or_split([], [stripped], out)

    async def _retrying(
        self, accepted: Sequence[Accepted], dead: Sequence[DeadLetterRow]
    ) -> FlushResult:
        """One transaction, retried while the database is unavailable."""
        backoff = Backoff(initial=FIRST_BACKOFF_S, cap=self._max_backoff, jitter=0.0)
        while True:
            try:
                return await self.store.write(accepted, dead)
            except DatabaseUnavailableError as exc:
                self._on_unavailable(exc)
                delay = backoff.next_delay()
                log.warning("ingest write failed (%s); retrying in %.1f s", exc, delay)
                if self._stopping.is_set():
                    raise WriteStoppedError from exc
                await asyncio.sleep(delay)
