"""The end-to-end acknowledgement: after each commit, tell every device what is stored.

The broker's PUBACK only says the broker has a message, and a broker can lose what it holds
(a restart that drops a shared subscription's queue, a crash before its autosave). So the
agent keeps its detection batches and events until the control plane confirms them, and the
ingest, after each commit, publishes an :class:`~aios.shared.messages.IngestAck` on each
concerned device's ``ack`` topic (QoS 1).

The acknowledgement is computed from what is committed, never from what this process saw:
the batches' progress is ``ingest_state`` (kept by the store in the flush's transaction), the
events' progress and the agent-reported tail are ``ingest_ack_state``, updated here in a
transaction of their own right after the flush committed, rows locked, so that several ingest
replicas each publish a true (if not the latest) picture; the agent only adds confirmations. A
crash between the two transactions leaves events stored but untracked: the agent sends them
again, they are stored once (events are merged by id) and tracked then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aios.controlplane.db.bulk import update_rows
from aios.controlplane.db.models import Device, IngestAckState
from aios.controlplane.db.scoped_session import system_transaction
from aios.controlplane.telemetry.progress import stored_progress
from aios.controlplane.telemetry.records import Accepted
from aios.controlplane.telemetry.sequence import SeqProgress
from aios.controlplane.tenancy import INGEST
from aios.shared.codec import encode
from aios.shared.messages import (
    MAX_ACK_RANGES,
    DetectionBatch,
    Event,
    Heartbeat,
    IngestAck,
    SeqAck,
)
from aios.shared.topics import Channel, build_topic

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], bool]
"""Publish ``payload`` on ``topic`` at QoS 1; ``False`` if it could not be queued."""


def seq_ack(progress: SeqProgress) -> SeqAck:
    """What ``progress`` confirms, with at most :data:`MAX_ACK_RANGES` missing ranges: when
    there are more, the acknowledgement speaks only up to the first range it leaves out."""
    if progress.received == 0:
        return SeqAck(first=-1, contiguous=-1, upto=-1)
    missing = [(lo, hi) for lo, hi in progress.gaps[:MAX_ACK_RANGES]]
    upto = progress.max_seq
    if len(progress.gaps) > MAX_ACK_RANGES:
        upto = progress.gaps[MAX_ACK_RANGES][0] - 1
    return SeqAck(
        first=progress.first_seq, contiguous=progress.contiguous_seq, upto=upto, missing=missing
    )


def _tracked(a: Accepted) -> bool:
    """Whether ``a`` says something about a numbered stream (a heartbeat of an agent older
    than acknowledgements, or a status, does not: no row to write, nothing to acknowledge)."""
    msg = a.message
    if isinstance(msg, DetectionBatch):
        return True
    if isinstance(msg, Event):
        return msg.seq is not None
    if isinstance(msg, Heartbeat):
        return msg.last_seq is not None or msg.last_event_seq is not None
    return False


@dataclass(slots=True)
class _Tracked:
    org_id: str
    events: SeqProgress
    agent_seq: int | None
    agent_event_seq: int | None
    agent_seq_at: datetime | None
    new: bool


@dataclass(slots=True)
class AckStats:
    published: int = 0
    skipped: int = 0  # not connected to the broker: the agent sends again after its timeout
    errors: int = 0


class AckTracker:
    """Tracks event seqs and the agent-reported tail, and publishes the acknowledgements."""

    def __init__(self, engine: AsyncEngine, publish: Publish, *, prefix: str) -> None:
        self.engine = engine
        self.publish = publish
        self.prefix = prefix
        self.stats = AckStats()

    async def after_commit(self, accepted: Sequence[Accepted]) -> list[IngestAck]:
        """Track and acknowledge the devices of a committed flush; the acknowledgements sent.
        A database error is logged and counted, never raised: the agent sends again."""
        wanted = {a.device_id: a.org_id for a in accepted if _tracked(a)}
        if not wanted:
            return []
        try:
            acks = await self._track(accepted, wanted)
        except IntegrityError:  # another replica created a row first: once more, now locked
            try:
                acks = await self._track(accepted, wanted)
            except (SQLAlchemyError, OSError) as exc:
                return self._failed(exc)
        except (SQLAlchemyError, OSError) as exc:
            return self._failed(exc)
        for org_id, ack in acks:
            topic = build_topic(org_id, ack.device_id, Channel.ACK, prefix=self.prefix)
            if self.publish(topic, encode(ack)):
                self.stats.published += 1
            else:
                self.stats.skipped += 1
        return [ack for _, ack in acks]

    def _failed(self, exc: BaseException) -> list[IngestAck]:
        self.stats.errors += 1
        log.warning("acknowledgement tracking failed (%s); devices will send again", exc)
        return []

    async def _track(
        self, accepted: Sequence[Accepted], wanted: dict[str, str]
    ) -> list[tuple[str, IngestAck]]:
        now = datetime.now(UTC)
        async with system_transaction(self.engine, INGEST) as conn:
            owners = await conn.execute(
                select(Device.id, Device.org_id).where(Device.id.in_(wanted))
            )
            devices = {r.id: r.org_id for r in owners if wanted.get(r.id) == r.org_id}
            if not devices:
                return []
            tracked = await self._lock(conn, devices)
            for a in accepted:
                t = tracked.get(a.device_id)
                if t is None or a.org_id != t.org_id:
                    continue
                msg = a.message
                if isinstance(msg, Event) and msg.seq is not None:
                    t.events.add(msg.seq)  # a seq seen before is counted as a duplicate
                elif isinstance(msg, Heartbeat):
                    if msg.last_seq is not None:
                        t.agent_seq = max(t.agent_seq or 0, msg.last_seq)
                        t.agent_seq_at = now
                    if msg.last_event_seq is not None:
                        t.agent_event_seq = max(t.agent_event_seq or 0, msg.last_event_seq)
                        t.agent_seq_at = now
            await self._save(conn, tracked, now)
            batches = await conn.execute(stored_progress(devices))
            det = {r.device_id: SeqProgress.stored(r) for r in batches}
        ts = time.time()
        return [
            (
                t.org_id,
                IngestAck(
                    device_id=device_id,
                    ts=ts,
                    detections=seq_ack(det[device_id]) if device_id in det else None,
                    events=seq_ack(t.events) if t.events.received else None,
                ),
            )
            for device_id, t in sorted(tracked.items())
            if device_id in det or t.events.received
        ]

    async def _lock(self, conn: AsyncConnection, devices: dict[str, str]) -> dict[str, _Tracked]:
        rows = await conn.execute(
            select(IngestAckState)
            .where(IngestAckState.device_id.in_(devices))
            .order_by(IngestAckState.device_id)
            .with_for_update()
        )
        tracked = {
            s.device_id: _Tracked(
                org_id=s.org_id,
                events=SeqProgress.stored(s, "event_"),
                agent_seq=s.agent_seq,
                agent_event_seq=s.agent_event_seq,
                agent_seq_at=s.agent_seq_at,
                new=False,
            )
            for s in rows
        }
        for device_id, org_id in devices.items():
            if device_id not in tracked:
                tracked[device_id] = _Tracked(
                    org_id=org_id,
                    events=SeqProgress.empty(),
                    agent_seq=None,
                    agent_event_seq=None,
                    agent_seq_at=None,
                    new=True,
                )
        return tracked

    async def _save(
        self, conn: AsyncConnection, tracked: dict[str, _Tracked], now: datetime
    ) -> None:
        def values(device_id: str, t: _Tracked) -> dict[str, object]:
            return {
                "event_first_seq": t.events.first_seq,
                "event_contiguous_seq": t.events.contiguous_seq,
                "event_max_seq": t.events.max_seq,
                "event_received": t.events.received,
                "event_duplicates": t.events.duplicates,
                "event_gaps": t.events.gaps,
                "agent_seq": t.agent_seq,
                "agent_event_seq": t.agent_event_seq,
                "agent_seq_at": t.agent_seq_at,
                "updated_at": now,
            }

        new = [
            {"device_id": d, "org_id": t.org_id, **values(d, t)}
            for d, t in sorted(tracked.items())
            if t.new
        ]
        if new:
            await conn.execute(insert(IngestAckState), new)
        old = [{"device_id": d, **values(d, t)} for d, t in sorted(tracked.items()) if not t.new]
        await update_rows(conn, IngestAckState, ["device_id"], old)
