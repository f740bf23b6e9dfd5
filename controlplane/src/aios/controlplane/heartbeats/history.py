"""Heartbeat history: a job samples every device's latest heartbeat into ``heartbeat_samples``
(when it is newer than the device's last sample); reads roll the samples up into time buckets
(averages; the spool's maximum). Samples past their retention (``AIOS_HEARTBEAT_RETENTION_DAYS``)
are deleted by the storage maintenance job
(:meth:`~aios.controlplane.db.storage.backend.Storage.maintain_sync`).

Sampling what the ingest already keeps (``devices.last_heartbeat``) leaves the ingest's hot path
alone and bounds the history to one row per device per :data:`SAMPLE_INTERVAL_S` at most,
whatever the devices' heartbeat rate.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from aios.controlplane.db.models import Device, HeartbeatSample
from aios.controlplane.tenancy import OrgScope
from aios.shared.messages import Heartbeat

SAMPLE_INTERVAL_S = 30.0
HEARTBEAT_HISTORY_JOB = "heartbeat_history"
BUCKETS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600}
METRICS = (
    "cpu_percent",
    "mem_percent",
    "temperature_c",
    "inference_ms_p50",
    "inference_ms_p95",
    "fps",
)


class HistoryPoint(msgspec.Struct, frozen=True, kw_only=True):
    """One bucket: the averages of its samples (``null`` when none reported the metric)."""

    t: datetime
    samples: int
    cpu_percent: float | None
    mem_percent: float | None
    temperature_c: float | None
    inference_ms_p50: float | None
    inference_ms_p95: float | None
    fps: float | None
    spool_depth: int | None


class HeartbeatHistory(msgspec.Struct, frozen=True, kw_only=True):
    device_id: str
    since: datetime
    until: datetime
    bucket: str
    points: list[HistoryPoint]


def _sample(org_id: str, hb: Heartbeat) -> dict[str, Any]:
    return {
        "device_id": hb.device_id,
        "org_id": org_id,
        "ts": datetime.fromtimestamp(hb.ts, UTC),
        "cpu_percent": hb.cpu_percent,
        "mem_percent": hb.mem_percent,
        "temperature_c": hb.temperature_c,
        "inference_ms_p50": hb.inference_ms_p50,
        "inference_ms_p95": hb.inference_ms_p95,
        "fps": sum(s.fps for s in hb.streams) if hb.streams else None,
        "spool_depth": hb.spool_depth,
    }


async def sample_heartbeats(conn: AsyncConnection) -> int:
    """The job: store each device's latest heartbeat if newer than its last sample. Returns
    the number of samples stored."""
    latest = dict(
        (
            await conn.execute(
                select(HeartbeatSample.device_id, func.max(HeartbeatSample.ts)).group_by(
                    HeartbeatSample.device_id
                )
            )
        ).all()
    )
    rows = []
    for device_id, org_id, stored in (
        await conn.execute(
            select(Device.id, Device.org_id, Device.last_heartbeat).where(
                Device.last_heartbeat.is_not(None)
            )
        )
    ).all():
        try:
            hb = msgspec.convert(stored, Heartbeat)
        except msgspec.ValidationError:
            continue
        if hb.device_id != device_id:
            continue
        sample = _sample(org_id, hb)
        last = latest.get(device_id)
        if last is not None and _aware(last) >= sample["ts"]:
            continue
        rows.append(sample)
    if rows:
        await conn.execute(insert(HeartbeatSample), rows)
    return len(rows)


def _aware(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


async def heartbeat_history(
    session: AsyncSession,
    scope: OrgScope,
    device_id: str,
    since: datetime,
    until: datetime,
    bucket: str,
) -> HeartbeatHistory:
    width = BUCKETS[bucket]
    rows = (
        await session.execute(
            scope.where(
                select(HeartbeatSample)
                .where(HeartbeatSample.device_id == device_id)
                .where(HeartbeatSample.ts >= since, HeartbeatSample.ts < until)
                .order_by(HeartbeatSample.ts),
                HeartbeatSample.org_id,
            )
        )
    ).scalars()
    groups: dict[int, list[HeartbeatSample]] = defaultdict(list)
    for r in rows:
        groups[int(_aware(r.ts).timestamp() // width * width)].append(r)
    points = []
    for start, samples in sorted(groups.items()):
        means: dict[str, float | None] = {}
        for name in METRICS:
            values = [v for s in samples if (v := getattr(s, name)) is not None]
            means[name] = round(sum(values) / len(values), 2) if values else None
        spools = [s.spool_depth for s in samples if s.spool_depth is not None]
        points.append(
            HistoryPoint(
                t=datetime.fromtimestamp(start, UTC),
                samples=len(samples),
                cpu_percent=means["cpu_percent"],
                mem_percent=means["mem_percent"],
                temperature_c=means["temperature_c"],
                inference_ms_p50=means["inference_ms_p50"],
                inference_ms_p95=means["inference_ms_p95"],
                fps=means["fps"],
                spool_depth=max(spools) if spools else None,
            )
        )
    return HeartbeatHistory(
        device_id=device_id, since=since, until=until, bucket=bucket, points=points
    )
