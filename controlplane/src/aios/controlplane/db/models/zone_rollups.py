"""Detection counts per zone: what the analytics by zone read.

``detection_zone_counts_1m`` and ``_1h`` hold, per organization, time bucket (start of the
minute / hour, UTC), device, stream, zone and label, how many detections stood in that zone
(``Detection.zones`` on the wire; one detection in two zones counts once in each). Unlike
``detection_counts_*`` they are maintained at ingest on every backend, TimescaleDB included: a
continuous aggregate cannot unnest the zones of a row, and the zone counts are small next to the
raw detections. The primary key starts with ``(org_id, bucket)``, like the other rollups.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from aios.controlplane.db.base import Base


class DetectionZoneCount1m(Base):
    __tablename__ = "detection_zone_counts_1m"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    zone_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(256), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class DetectionZoneCount1h(Base):
    __tablename__ = "detection_zone_counts_1h"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    zone_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(256), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
