"""Device presence as published: the current state per device and the history of changes.

``device_presence`` is the debounced state last published for each device (one row per device,
updated only on a change), so that several control-plane replicas publish a change once: the
change is recorded by a conditional upsert and only the replica whose upsert changed the row
publishes it. ``device_status_changes`` keeps every published change (the presence events).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from aios.controlplane.db.base import Base
from aios.controlplane.db.models.telemetry import BigIntPK


class DevicePresence(Base):
    __tablename__ = "device_presence"

    device_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime]


class DeviceStatusChange(Base):
    __tablename__ = "device_status_changes"
    __table_args__ = (Index("ix_device_status_changes_device_id_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[str] = mapped_column(String(64), ForeignKey("devices.id", ondelete="CASCADE"))
    previous: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
