"""Heartbeat history: samples of each device's health, kept for a retention of their own.

A job copies every device's latest heartbeat here when it is newer than the last sample
(:mod:`aios.controlplane.heartbeats.history`), so the history has the heartbeats' own times
and the ingest is untouched; reads roll the samples up into time buckets. The same job keeps an
hourly rollup (``heartbeat_rollups_1h``), like the detections' rollups, with a longer retention
of its own: hourly history outlives the samples.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from aios.controlplane.db.base import Base


class _Health:
    """One device's health at a time (a sample), or averaged over an hour (a rollup)."""

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


class HeartbeatSample(_Health, Base):
    __tablename__ = "heartbeat_samples"
    __table_args__ = (Index("ix_heartbeat_samples_ts", "ts"),)


class HeartbeatRollup1h(_Health, Base):
    """An hour of samples (``ts``: the hour's start): the averages of each metric over the
    samples that reported it, the spool's maximum, and how many samples there were."""

    __tablename__ = "heartbeat_rollups_1h"
    __table_args__ = (Index("ix_heartbeat_rollups_1h_ts", "ts"),)

    samples: Mapped[int] = mapped_column(Integer, default=0, sort_order=1)
