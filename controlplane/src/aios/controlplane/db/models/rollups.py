"""Pre-aggregated detection counts: what the dashboard analytics read, never raw detections.

``detection_counts_1m`` and ``detection_counts_1h`` hold, per organization, time bucket (start of
the minute / hour, UTC), device, stream and label, how many detections were stored. On plain
PostgreSQL and SQLite the ingest maintains them in the same transaction as the batch
(``INSERT ... ON CONFLICT DO UPDATE SET count = count + excluded.count``); with TimescaleDB the
continuous aggregates ``detection_counts_1m_cagg`` / ``_1h_cagg`` (same columns) replace them
(see :mod:`aios.controlplane.db.storage.timescale`). The primary key starts with
``(org_id, bucket)``: every read is one organization over a time range.

``detection_zone_counts_1m`` and ``_1h`` add the zone to the key: how many detections stood in
each zone (``Detection.zones`` on the wire; one detection in two zones counts once in each).
Unlike the others they are maintained at ingest on every backend, TimescaleDB included: a
continuous aggregate cannot unnest the zones of a row, and zone counts are few next to the raw
detections.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from aios.controlplane.db.base import Base


class _Counts:
    """The columns every detection-count rollup has (its primary key: all but ``count``)."""

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(256), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class DetectionCount1m(_Counts, Base):
    __tablename__ = "detection_counts_1m"


class DetectionCount1h(_Counts, Base):
    __tablename__ = "detection_counts_1h"


class _ZoneCounts(_Counts):
    # after the inherited columns, so that the primary key still starts with (org_id, bucket)
    zone_id: Mapped[str] = mapped_column(String(64), primary_key=True, sort_order=1)


class DetectionZoneCount1m(_ZoneCounts, Base):
    __tablename__ = "detection_zone_counts_1m"


class DetectionZoneCount1h(_ZoneCounts, Base):
    __tablename__ = "detection_zone_counts_1h"
