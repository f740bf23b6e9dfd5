"""Heartbeat history: a job samples every device's latest heartbeat into ``heartbeat_samples``
(when it is newer than the device's last sample); reads roll the samples up into time buckets
(averages; the spool's maximum). Like the detections, the history is also rolled up: each run
recomputes the hourly rollup (``heartbeat_rollups_1h``) of the hours it added samples to, and
hourly reads come from it. Samples and hourly rollups each have a retention of their own
(``AIOS_HEARTBEAT_RETENTION_DAYS``, ``AIOS_HEARTBEAT_ROLLUP_DAYS``), applied by the
storage maintenance job (:meth:`~aios.controlplane.db.storage.backend.Storage.maintain_sync`).

Sampling what the ingest already keeps (``devices.last_heartbeat``) leaves the ingest's hot path
alone and bounds the history to one row per device per :data:`SAMPLE_INTERVAL_S` at most,
whatever the devices' heartbeat rate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from aios.controlplane.db.models import Device, HeartbeatRollup1h, HeartbeatSample
from aios.controlplane.db.scoped_session import bind_scope
from aios.controlplane.db.storage.dialect import conflict_insert
from aios.controlplane.errors import NotFoundError
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
        await _roll_up(conn, {(r["device_id"], _hour(r["ts"])) for r in rows})
    return len(rows)


def _hour(t: datetime) -> int:
    return int(_aware(t).timestamp() // 3600 * 3600)


async def _roll_up(conn: AsyncConnection, hours: set[tuple[str, int]]) -> None:
    """Recompute the hourly rollup of each (device, hour start) from its samples: idempotent,
    and exact whatever the order samples arrive in."""
    since = datetime.fromtimestamp(min(h for _, h in hours), UTC)
    samples = (
        await conn.execute(
            select(HeartbeatSample).where(
                HeartbeatSample.device_id.in_({d for d, _ in hours}), HeartbeatSample.ts >= since
            )
        )
    ).all()
    groups: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for sample in samples:
        key = (sample.device_id, _hour(sample.ts))
        if key in hours:
            groups[key].append(sample)
    columns = ("samples", *METRICS, "spool_depth")
    rows = []
    for (device_id, start), members in sorted(groups.items()):
        point = _point(start, members)
        values = {c: getattr(point, c) for c in columns}
        rows.append({"device_id": device_id, "ts": point.t, "org_id": members[0].org_id, **values})
    stmt: Any = conflict_insert(conn.dialect.name, HeartbeatRollup1h)
    stmt = stmt.on_conflict_do_update(
        index_elements=["device_id", "ts"], set_={c: getattr(stmt.excluded, c) for c in columns}
    )
    await conn.execute(stmt, rows)


def _point(start: int, samples: Sequence[Any]) -> HistoryPoint:
    """One bucket starting at ``start`` (Unix s): the averages of its samples, the spool's max."""
    means: dict[str, float | None] = {}
    for name in METRICS:
        values = [v for s in samples if (v := getattr(s, name)) is not None]
        means[name] = round(sum(values) / len(values), 2) if values else None
    spools = [s.spool_depth for s in samples if s.spool_depth is not None]
    return HistoryPoint(
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
    """``device_id``'s heartbeat samples in ``[since, until)``, averaged per ``bucket``; 404
    unless the device is in ``scope``."""
    width = BUCKETS[bucket]
    session = bind_scope(session, scope)
    if await session.scalar(select(Device.id).where(Device.id == device_id)) is None:
        raise NotFoundError(f"device {device_id!r} not found")
    if width == 3600:  # the hourly rollup: it outlives the samples
        return HeartbeatHistory(
            device_id=device_id,
            since=since,
            until=until,
            bucket=bucket,
            points=await _hourly(session, device_id, since, until),
        )
    rows = (
        await session.execute(
            select(HeartbeatSample)
            .where(HeartbeatSample.device_id == device_id)
            .where(HeartbeatSample.ts >= since, HeartbeatSample.ts < until)
            .order_by(HeartbeatSample.ts)
        )
    ).scalars()
    groups: dict[int, list[HeartbeatSample]] = defaultdict(list)
    for r in rows:
        groups[int(_aware(r.ts).timestamp() // width * width)].append(r)
    points = [_point(start, samples) for start, samples in sorted(groups.items())]
    return HeartbeatHistory(
        device_id=device_id, since=since, until=until, bucket=bucket, points=points
    )


async def _hourly(
    session: AsyncSession, device_id: str, since: datetime, until: datetime
) -> list[HistoryPoint]:
    """The hourly rollup's points (``session`` is bound to the caller's scope)."""
    rollup = HeartbeatRollup1h
    rows = await session.scalars(
        select(rollup)
        .where(rollup.device_id == device_id)
        .where(rollup.ts >= datetime.fromtimestamp(_hour(since), UTC), rollup.ts < until)
        .order_by(rollup.ts)
    )
    return [
        HistoryPoint(
            t=_aware(r.ts),
            samples=r.samples,
            **{name: getattr(r, name) for name in (*METRICS, "spool_depth")},
        )
        for r in rows
    ]
