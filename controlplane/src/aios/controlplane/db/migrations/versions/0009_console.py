"""Event acknowledgements and heartbeat history (what the operator's console shows)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aios.controlplane.db.migrations import columns as col

revision: str = "0009_console"
down_revision: str | None = "0008_accounts_security"


def upgrade() -> None:
    op.create_table(
        "event_acknowledgements",
        col.string("device_id"),
        col.string("event_id"),
        col.string("org_id"),
        col.string("user_id", nullable=True),
        col.string("user_name", 200),
        sa.Column("acknowledged_at", col.UTC_DATETIME, nullable=False),
        col.device_fk("event_acknowledgements"),
        col.org_fk("event_acknowledgements"),
        col.primary_key("event_acknowledgements", "device_id", "event_id"),
    )
    op.create_index(
        "ix_event_acknowledgements_org_id_acknowledged_at",
        "event_acknowledgements",
        ["org_id", "acknowledged_at"],
    )
    op.create_table(
        "heartbeat_samples",
        col.string("device_id"),
        sa.Column("ts", col.UTC_DATETIME, nullable=False),
        col.string("org_id"),
        *col.optional(sa.Float(), "cpu_percent", "mem_percent", "temperature_c"),
        *col.optional(sa.Float(), "inference_ms_p50", "inference_ms_p95", "fps"),
        sa.Column("spool_depth", sa.Integer(), nullable=True),
        col.device_fk("heartbeat_samples"),
        col.org_fk("heartbeat_samples"),
        col.primary_key("heartbeat_samples", "device_id", "ts"),
    )
    op.create_index("ix_heartbeat_samples_ts", "heartbeat_samples", ["ts"])
    col.column_indexes("heartbeat_samples", "org_id")


def downgrade() -> None:
    op.drop_table("heartbeat_samples")
    op.drop_table("event_acknowledgements")
