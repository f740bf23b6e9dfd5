"""Telemetry written by the ingest (hot path: written with COPY/executemany, not the ORM).

- :class:`Detection`: one row per detected object. Natural key ``(device_id, seq, idx)``
  (``idx`` = ordinal of the object in its batch) plus ``ts``, so that the key includes the time
  column a TimescaleDB hypertable or a time-partitioned table requires. No foreign key: the hot
  table must not pay for one, and retention drops rows without touching ``devices``.
- :class:`DetectionBatchRecord`: one row per stored batch, keyed ``(device_id, seq)``: the
  idempotency key (a redelivered batch conflicts and is counted as a duplicate).
- :class:`IngestState`: per device, completeness of the seq stream: highest contiguous seq,
  highest seq, missing ranges, received and duplicate counts.
- :class:`DeadLetter`: what the ingest refused, with the reason, the topic, a truncated payload.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from aios.controlplane.db.base import Base, JSONDocument
from aios.shared.messages import MAX_ZONES

BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
ZONES_LENGTH = MAX_ZONES * 65  # MAX_ZONES identifiers of up to 64 characters, and commas


class Detection(Base):
    __tablename__ = "detections"
    __table_args__ = (
        Index("ix_detections_org_id_ts", "org_id", "ts"),
        Index("ix_detections_device_id_ts", "device_id", "ts"),
    )

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64))
    stream_id: Mapped[str] = mapped_column(String(64))
    frame_index: Mapped[int] = mapped_column(BigInteger)
    class_id: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(256))
    confidence: Mapped[float] = mapped_column(Float)
    x1: Mapped[float] = mapped_column(Float)
    y1: Mapped[float] = mapped_column(Float)
    x2: Mapped[float] = mapped_column(Float)
    y2: Mapped[float] = mapped_column(Float)
    track_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    zones: Mapped[str | None] = mapped_column(String(ZONES_LENGTH), default=None)
    """The zone ids the object stood in, comma-separated (ids never hold a comma); ``NULL``:
    none, or an agent that does not tag zones."""


class DetectionBatchRecord(Base):
    __tablename__ = "detection_batches"
    __table_args__ = (Index("ix_detection_batches_org_id_received_at", "org_id", "received_at"),)

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64))
    stream_id: Mapped[str] = mapped_column(String(64))
    pipeline_version: Mapped[int] = mapped_column(Integer)
    frames: Mapped[int] = mapped_column(Integer)
    objects: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime]


class IngestState(Base):
    __tablename__ = "ingest_state"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    contiguous_seq: Mapped[int] = mapped_column(BigInteger)
    max_seq: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    duplicates: Mapped[int] = mapped_column(BigInteger, default=0)
    gaps: Mapped[list[list[int]]] = mapped_column(JSONDocument, default=list)
    updated_at: Mapped[datetime]


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[str] = mapped_column(String(1024))
    topic: Mapped[str] = mapped_column(String(512))
    org_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    device_id: Mapped[str | None] = mapped_column(String(64), default=None)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_size: Mapped[int] = mapped_column(Integer)
