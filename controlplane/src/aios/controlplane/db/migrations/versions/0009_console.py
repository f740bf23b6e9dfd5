"""Event acknowledgements and heartbeat history (what the operator's console shows)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aios.controlplane.db.migrations.columns import (
    UTC_DATETIME,
    column_indexes,
    device_fk,
    optional,
    org_fk,
    primary_key,
    string,
)

revision: str = "0009_console"
down_revision: str | None = "0008_accounts_security"


def upgrade() -> None:
    op.create_table(
        "event_acknowledgements",
        string("device_id"),
        string("event_id"),
        string("org_id"),
        string("user_id", nullable=True),
        string("user_name", 200),
        sa.Column("acknowledged_at", UTC_DATETIME, nullable=False),
        device_fk("event_acknowledgements"),
        org_fk("event_acknowledgements"),
        primary_key("event_acknowledgements", "device_id", "event_id"),
    )
    op.create_index(
        "ix_event_acknowledgements_org_id_acknowledged_at",
        "event_acknowledgements",
        ["org_id", "acknowledged_at"],
    )
    op.create_table(
        "heartbeat_samples",
        string("device_id"),
        sa.Column("ts", UTC_DATETIME, nullable=False),
        string("org_id"),
        *optional(
            sa.Float(),
            "cpu_percent",
            "mem_percent",
            "temperature_c",
            "inference_ms_p50",
            "inference_ms_p95",
            "fps",
        ),
        sa.Column("spool_depth", sa.Integer(), nullable=True),
        device_fk("heartbeat_samples"),
        org_fk("heartbeat_samples"),
        primary_key("heartbeat_samples", "device_id", "ts"),
    )
    op.create_index("ix_heartbeat_samples_ts", "heartbeat_samples", ["ts"])
    column_indexes("heartbeat_samples", "org_id")


def downgrade() -> None:
    op.drop_table("heartbeat_samples")
    op.drop_table("event_acknowledgements")
