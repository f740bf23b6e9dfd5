"""Enrollment tokens and device credentials (fleet domain).

An enrollment token is shown once; only its SHA-256 is stored (it is a 256-bit random value, so
a fast hash is enough). A device's MQTT password is stored as an argon2id hash in
:class:`DeviceCredential`, one row per enrolled device, beside the hardware facts it reported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from aios.controlplane.db.base import AuditBase, JSONDocument
from aios.controlplane.db.models.organizations import new_identifier


class EnrollmentToken(AuditBase):
    __tablename__ = "enrollment_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_identifier)
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    max_uses: Mapped[int | None] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    tags: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)


class DeviceCredential(AuditBase):
    __tablename__ = "device_credentials"

    device_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    mqtt_username: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    enrollment_token_id: Mapped[str | None] = mapped_column(String(64), default=None)
    hardware: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
