"""Organizations: the tenants. Every piece of tenant data carries an ``org_id``."""

from __future__ import annotations

import uuid

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from aios.controlplane.db.base import AuditBase


def new_identifier() -> str:
    """A fresh id usable in MQTT topics (32 hex characters)."""
    return uuid.uuid4().hex


class Organization(AuditBase):
    """A tenant. ``id`` appears in MQTT topics, hence a topic identifier, not a UUID column."""

    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_identifier)
    name: Mapped[str] = mapped_column(String(200))
