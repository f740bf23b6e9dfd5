"""Presence (current state and history), job bookkeeping, webhooks and their deliveries."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aios.controlplane.db.migrations.columns import (
    BIGINT_PK,
    JSON,
    UTC_DATETIME,
    cascade_fk,
    column_indexes,
    device_fk,
    drop_tables,
    org_fk,
    primary_key,
    string,
    timestamps,
)

revision: str = "0004_presence_jobs_notifications"
down_revision: str | None = "0003_storage"


def upgrade() -> None:
    op.create_table(
        "device_presence",
        string("device_id"),
        string("org_id"),
        string("state", 16),
        sa.Column("since", UTC_DATETIME, nullable=False),
        device_fk("device_presence"),
        org_fk("device_presence"),
        primary_key("device_presence", "device_id"),
    )
    column_indexes("device_presence", "org_id")
    op.create_table(
        "device_status_changes",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        string("org_id"),
        string("device_id"),
        string("previous", 16),
        string("state", 16),
        string("reason"),
        sa.Column("at", UTC_DATETIME, nullable=False),
        device_fk("device_status_changes"),
        org_fk("device_status_changes"),
        primary_key("device_status_changes", "id"),
    )
    op.create_index(
        "ix_device_status_changes_device_id_at", "device_status_changes", ["device_id", "at"]
    )
    column_indexes("device_status_changes", "org_id")
    op.create_table(
        "job_runs",
        string("name"),
        string("holder", 128),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("finished_at", UTC_DATETIME, nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        string("last_error", 500, nullable=True),
        primary_key("job_runs", "name"),
    )
    op.create_table(
        "webhooks",
        string("id"),
        string("org_id"),
        string("name", 200),
        string("url", 2000),
        string("secret", 200),
        sa.Column("event_types", JSON, nullable=False),
        sa.Column("severities", JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        *timestamps(),
        org_fk("webhooks"),
        primary_key("webhooks", "id"),
    )
    column_indexes("webhooks", "org_id")
    op.create_table(
        "webhook_deliveries",
        string("id"),
        string("org_id"),
        string("webhook_id"),
        string("event_type"),
        string("severity", 16),
        string("cooldown_key", 200),
        sa.Column("payload", JSON, nullable=False),
        string("status", 16),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        string("last_error", 500, nullable=True),
        sa.Column("delivered_at", UTC_DATETIME, nullable=True),
        *timestamps(),
        org_fk("webhook_deliveries"),
        cascade_fk("webhook_deliveries", "webhook_id", "webhooks"),
        primary_key("webhook_deliveries", "id"),
    )
    column_indexes("webhook_deliveries", "org_id")
    op.create_index(
        "ix_webhook_deliveries_status_next_attempt_at",
        "webhook_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_index(
        "ix_webhook_deliveries_cooldown",
        "webhook_deliveries",
        ["webhook_id", "cooldown_key", "created_at"],
    )


def downgrade() -> None:
    drop_tables(
        "webhook_deliveries",
        "webhooks",
        "job_runs",
        "device_status_changes",
        "device_presence",
    )
