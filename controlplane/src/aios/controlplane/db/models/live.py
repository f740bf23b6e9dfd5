"""The live outbox: WebSocket messages on their way to every control-plane replica.

A producer (the deployment tracker, presence, the event ingest) inserts a row in its own
transaction; each replica's :class:`~aios.controlplane.live.hub.LiveHub` polls rows past the
last id it saw and pushes them to its connections of that organization. Rows are deleted after
an hour (a job), so the table stays small.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from aios.controlplane.db.base import Base, JSONDocument

_BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class LiveMessageRecord(Base):
    __tablename__ = "live_messages"

    id: Mapped[int] = mapped_column(_BigIntPK, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    message: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
