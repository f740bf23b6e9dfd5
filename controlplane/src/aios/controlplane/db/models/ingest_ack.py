"""What the end-to-end acknowledgement needs beside ``ingest_state`` (one row per device).

- the completeness of the device's *event* stream (``Event.seq``), kept like ``ingest_state``
  keeps the detection batches' (:class:`~aios.controlplane.telemetry.sequence.SeqProgress`);
- the tail: the highest batch and event seq the agent says (in its heartbeats) it produced, so
  that completeness also counts what is missing above the highest seq stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from aios.controlplane.db.base import Base, JSONDocument


class IngestAckState(Base):
    __tablename__ = "ingest_ack_state"

    device_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    event_first_seq: Mapped[int] = mapped_column(BigInteger)
    event_contiguous_seq: Mapped[int] = mapped_column(BigInteger)
    event_max_seq: Mapped[int] = mapped_column(BigInteger)
    event_received: Mapped[int] = mapped_column(BigInteger)
    event_duplicates: Mapped[int] = mapped_column(BigInteger)
    event_gaps: Mapped[list[list[int]]] = mapped_column(JSONDocument)
    agent_seq: Mapped[int | None] = mapped_column(BigInteger, default=None)
    agent_event_seq: Mapped[int | None] = mapped_column(BigInteger, default=None)
    agent_seq_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime]
