"""Events sent by devices (channel ``evt``) and pipeline reports (channel ``cfg/reported``).

- :class:`EventRecord`: one row per event ``id`` of a device. A dwell event's lifecycle
  (``start`` -> ``update``... -> ``end``) folds into that one row: ``started_at`` is the earliest
  time seen, ``ended_at`` the time of its ``end``, ``phase`` and ``last_ts`` those of the latest
  message. Replaying a message changes nothing (the merge is idempotent).
- :class:`PipelineReportRecord`: every ``PipelineReport`` a device sent, as received (the
  pipelines domain reads it to follow deployments). Keyed by device, pipeline, version, status
  and the device's time, so a redelivered report is stored once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from aios.controlplane.db.base import Base, JSONDocument


class EventRecord(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_org_id_started_at", "org_id", "started_at"),
        Index("ix_events_device_id_started_at", "device_id", "started_at"),
    )

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64))
    stream_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    phase: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    last_ts: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    rule_id: Mapped[str | None] = mapped_column(String(128), default=None)
    zone_id: Mapped[str | None] = mapped_column(String(128), default=None)
    line_id: Mapped[str | None] = mapped_column(String(128), default=None)
    track_ids: Mapped[list[int]] = mapped_column(JSONDocument, default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    snapshot: Mapped[str | None] = mapped_column(String(512), default=None)
    pipeline_version: Mapped[int | None] = mapped_column(Integer, default=None)
    received_at: Mapped[datetime]


class PipelineReportRecord(Base):
    __tablename__ = "pipeline_reports"
    __table_args__ = (Index("ix_pipeline_reports_org_id_received_at", "org_id", "received_at"),)

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pipeline_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    ts: Mapped[datetime] = mapped_column(primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64))
    deployment_id: Mapped[str | None] = mapped_column(String(64), default=None)
    active_version: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(String(2048), default=None)
    node: Mapped[str | None] = mapped_column(String(128), default=None)
    field: Mapped[str | None] = mapped_column(String(128), default=None)
    received_at: Mapped[datetime]
