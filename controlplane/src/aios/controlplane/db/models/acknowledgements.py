"""Acknowledgements of events by operators: who saw an event and when (one per event)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from aios.controlplane.db.base import Base


class EventAcknowledgement(Base):
    """Keyed like ``events`` (device, event id); the user's name is kept as it was then, so the
    record still reads right after the user is renamed or removed."""

    __tablename__ = "event_acknowledgements"
    __table_args__ = (
        Index("ix_event_acknowledgements_org_id_acknowledged_at", "org_id", "acknowledged_at"),
    )

    device_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    user_id: Mapped[str | None] = mapped_column(String(64), default=None)
    user_name: Mapped[str] = mapped_column(String(200), default="")
    acknowledged_at: Mapped[datetime]
