"""End-to-end acknowledgement: event-stream completeness and the agent-reported tail."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aios.controlplane.db.migrations import columns as col

revision: str = "0006_ingest_ack"
down_revision: str | None = "0004_presence_jobs_notifications"


def upgrade() -> None:
    op.create_table(
        "ingest_ack_state",
        col.string("device_id"),
        col.string("org_id"),
        *col.required(
            sa.BigInteger(),
            "event_first_seq",
            "event_contiguous_seq",
            "event_max_seq",
            "event_received",
            "event_duplicates",
        ),
        sa.Column("event_gaps", col.JSON, nullable=False),
        *col.optional(sa.BigInteger(), "agent_seq", "agent_event_seq"),
        sa.Column("agent_seq_at", col.UTC_DATETIME, nullable=True),
        sa.Column("updated_at", col.UTC_DATETIME, nullable=False),
        col.device_fk("ingest_ack_state"),
        col.org_fk("ingest_ack_state"),
        col.primary_key("ingest_ack_state", "device_id"),
    )
    col.column_indexes("ingest_ack_state", "org_id")


def downgrade() -> None:
    op.drop_table("ingest_ack_state")
