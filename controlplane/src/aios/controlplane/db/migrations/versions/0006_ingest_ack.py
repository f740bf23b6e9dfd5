"""End-to-end acknowledgement: event-stream completeness and the agent-reported tail.

Revision ID: 0006_ingest_ack
Revises: 0004_presence_jobs_notifications
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_ingest_ack"
down_revision: str | None = "0004_presence_jobs_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ingest_ack_state",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("event_first_seq", sa.BigInteger(), nullable=False),
        sa.Column("event_contiguous_seq", sa.BigInteger(), nullable=False),
        sa.Column("event_max_seq", sa.BigInteger(), nullable=False),
        sa.Column("event_received", sa.BigInteger(), nullable=False),
        sa.Column("event_duplicates", sa.BigInteger(), nullable=False),
        sa.Column("event_gaps", JSON, nullable=False),
        sa.Column("agent_seq", sa.BigInteger(), nullable=True),
        sa.Column("agent_event_seq", sa.BigInteger(), nullable=True),
        sa.Column("agent_seq_at", UTC_DATETIME, nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_ingest_ack_state_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_ingest_ack_state_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_ingest_ack_state")),
    )
    op.create_index(op.f("ix_ingest_ack_state_org_id"), "ingest_ack_state", ["org_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ingest_ack_state_org_id"), table_name="ingest_ack_state")
    op.drop_table("ingest_ack_state")
