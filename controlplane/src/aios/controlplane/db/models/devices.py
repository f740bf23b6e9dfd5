"""Devices (edge boxes running ``aios-agent``).

``id`` is the device id of the MQTT topics and is unique across organizations, so a device
publishing under another organization's topic is recognised as wrong-tenant by the ingest.
Heartbeats update ``last_seen_at`` and ``last_heartbeat`` in place (no row per heartbeat).

A deleted device leaves a :class:`DeviceTombstone`: the ingest never auto-registers that id
again, so a message still in flight, a retained status or a last will of the deleted device
cannot bring it back (ids are never reused: enrollment draws new random ones).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from aios.controlplane.db.base import AuditBase, Base, JSONDocument
from aios.controlplane.db.models.organizations import new_identifier
from aios.controlplane.presence.health import stored_seed_status
from aios.shared.live import SeedStatus


class DeviceState(str, enum.Enum):
    """Presence of a device as last known by the control plane."""

    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"


class Device(AuditBase):
    __tablename__ = "devices"
    __table_args__ = (Index("ix_devices_org_id_name", "org_id", "name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_identifier)
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=DeviceState.UNKNOWN.value)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    agent_version: Mapped[str | None] = mapped_column(String(256), default=None)
    last_heartbeat: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, default=None)
    tags: Mapped[list[str]] = mapped_column(JSONDocument, default=list)

    @property
    def seed_status(self) -> SeedStatus:
        """``ON``/``OFF``/``WARNING`` (:func:`~aios.controlplane.presence.health.seed_status`)."""
        return stored_seed_status(self.status, self.last_heartbeat)


class DeviceTombstone(Base):
    __tablename__ = "device_tombstones"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    deleted_at: Mapped[datetime]
