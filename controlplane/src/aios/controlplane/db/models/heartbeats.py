"""Heartbeat history: samples of each device's health, kept for a retention of their own.

A job copies every device's latest heartbeat here when it is newer than the last sample
(:mod:`aios.controlplane.heartbeats.history`), so the history has the heartbeats' own times
and the ingest is untouched; reads roll the samples up into time buckets.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from aios.controlplane.db.base import Base


class HeartbeatSample(Base):
    __tablename__ = "heartbeat_samples"
    __table_args__ = (Index("ix_heartbeat_samples_ts", "ts"),)

    device_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    ts: Mapped[datetime] = mapped_column(primary_key=True)
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    cpu_percent: Mapped[float | None] = mapped_column(Float, default=None)
    mem_percent: Mapped[float | None] = mapped_column(Float, default=None)
    temperature_c: Mapped[float | None] = mapped_column(Float, default=None)
    inference_ms_p50: Mapped[float | None] = mapped_column(Float, default=None)
    inference_ms_p95: Mapped[float | None] = mapped_column(Float, default=None)
    fps: Mapped[float | None] = mapped_column(Float, default=None)
    """The sum of the cameras' frame rates."""
    spool_depth: Mapped[int | None] = mapped_column(Integer, default=None)
