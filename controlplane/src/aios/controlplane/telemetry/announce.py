"""Telling others about what the ingest stored, inside the flush's transaction.

- A stored or changed event becomes a ``new_event`` live message (the WebSocket fan-out reads
  it once the flush commits) and, for an event that starts or happens (``start``/``instant``),
  a webhook notification, subject to the webhooks' filters and cooldown.
- A device's heartbeat (its latest in the flush) becomes a ``device_heartbeat`` live message,
  so the console's device page follows its health without polling.
- A pipeline report moves its deployment target (the pipelines domain's
  :func:`~aios.controlplane.pipelines.deployments.record_report`).

Being in the producer's transaction, nothing is announced that was rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from aios.controlplane.live.outbox import publish_live
from aios.controlplane.notifications.outbox import enqueue
from aios.controlplane.notifications.schemas import Notification
from aios.controlplane.pipelines.deployments import record_report
from aios.controlplane.telemetry.events import EventRow
from aios.controlplane.telemetry.records import Accepted
from aios.shared.live import DeviceHeartbeat, EventSummary, new_event
from aios.shared.messages import Heartbeat, PipelineReport

NOTIFY_PHASES = frozenset({"start", "instant"})


def snapshot_url(event_id: str) -> str:
    return f"/api/v1/dashboard/events/{event_id}/snapshot"


def _summary(r: EventRow) -> EventSummary:
    snapshot = snapshot_url(r.id) if r.snapshot else None
    return EventSummary(
        id=r.id, event_type=r.event_type, severity=r.severity, device_id=r.device_id,
        stream_id=r.stream_id, phase=r.phase, timestamp=r.last_ts.timestamp(),
        snapshot_url=snapshot,
    )  # fmt: skip


async def announce_events(
    conn: AsyncConnection, rows: Sequence[EventRow], *, cooldown_s: float
) -> None:
    """Live messages and notifications for the ``events`` rows a flush inserted or changed."""
    if not rows:
        return
    await publish_live(conn, [new_event(r.org_id, _summary(r)) for r in rows])
    now = datetime.now(UTC)
    await enqueue(
        conn,
        [
            Notification(
                org_id=r.org_id,
                event_type=r.event_type,
                severity=r.severity,
                subject=f"{r.device_id}/{r.rule_id or r.stream_id}",
                data={
                    "event_id": r.id,
                    "device_id": r.device_id,
                    "stream_id": r.stream_id,
                    "phase": r.phase,
                    "zone_id": r.zone_id,
                    "line_id": r.line_id,
                    "track_ids": r.track_ids,
                    "attributes": r.attributes,
                    "started_at": r.started_at.isoformat(),
                    "snapshot_url": snapshot_url(r.id) if r.snapshot else None,
                },
                created_at=now,
            )
            for r in rows
            if r.phase in NOTIFY_PHASES
        ],
        cooldown_s=cooldown_s,
    )


async def announce_heartbeats(conn: AsyncConnection, accepted: Sequence[Accepted]) -> None:
    """A ``device_heartbeat`` live message for each device's latest heartbeat of the flush."""
    latest: dict[str, tuple[Accepted, Heartbeat]] = {}
    for a in accepted:
        if isinstance(a.message, Heartbeat):
            latest[a.device_id] = (a, a.message)
    await publish_live(
        conn,
        [
            DeviceHeartbeat(
                org_id=a.org_id,
                device_id=device_id,
                received_at=a.received_at.timestamp(),
                heartbeat=hb,
            )
            for device_id, (a, hb) in sorted(latest.items())
        ],
    )


async def announce_reports(conn: AsyncConnection, reports: Sequence[Accepted]) -> int:
    """Apply each report to its deployment target; how many matched a deployment."""
    matched = 0
    for a in reports:
        assert isinstance(a.message, PipelineReport)
        matched += await record_report(conn, a.message, a.org_id)
    return matched
