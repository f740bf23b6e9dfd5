"""Presence (current state and history), job bookkeeping, webhooks and their deliveries."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aios.controlplane.db.migrations import columns as col

revision: str = "0004_presence_jobs_notifications"
down_revision: str | None = "0003_storage"


def upgrade() -> None:
    op.create_table(
        "device_presence",
        col.string("device_id"),
        col.string("org_id"),
        col.string("state", 16),
        sa.Column("since", col.UTC_DATETIME, nullable=False),
        col.device_fk("device_presence"),
        col.org_fk("device_presence"),
        col.primary_key("device_presence", "device_id"),
    )
    col.column_indexes("device_presence", "org_id")
    op.create_table(
        "device_status_changes",
        sa.Column("id", col.BIGINT_PK, autoincrement=True, nullable=False),
        col.string("org_id"),
        col.string("device_id"),
        col.string("previous", 16),
        col.string("state", 16),
        col.string("reason"),
        sa.Column("at", col.UTC_DATETIME, nullable=False),
        col.device_fk("device_status_changes"),
        col.org_fk("device_status_changes"),
        col.primary_key("device_status_changes", "id"),
    )
    op.create_index(
        "ix_device_status_changes_device_id_at", "device_status_changes", ["device_id", "at"]
    )
    col.column_indexes("device_status_changes", "org_id")
    op.create_table(
        "job_runs",
        col.string("name"),
        col.string("holder", 128),
        sa.Column("started_at", col.UTC_DATETIME, nullable=False),
        sa.Column("finished_at", col.UTC_DATETIME, nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        col.string("last_error", 500, nullable=True),
        col.primary_key("job_runs", "name"),
    )
    op.create_table(
        "webhooks",
        col.string("id"),
        col.string("org_id"),
        col.string("name", 200),
        col.string("url", 2000),
        col.string("secret", 200),
        sa.Column("event_types", col.JSON, nullable=False),
        sa.Column("severities", col.JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        *col.timestamps(),
        col.org_fk("webhooks"),
        col.primary_key("webhooks", "id"),
    )
    col.column_indexes("webhooks", "org_id")
    op.create_table(
        "webhook_deliveries",
        col.string("id"),
        col.string("org_id"),
        col.string("webhook_id"),
        col.string("event_type"),
        col.string("severity", 16),
        col.string("cooldown_key", 200),
        sa.Column("payload", col.JSON, nullable=False),
        col.string("status", 16),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", col.UTC_DATETIME, nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        col.string("last_error", 500, nullable=True),
        sa.Column("delivered_at", col.UTC_DATETIME, nullable=True),
        *col.timestamps(),
        col.org_fk("webhook_deliveries"),
        col.cascade_fk("webhook_deliveries", "webhook_id", "webhooks"),
        col.primary_key("webhook_deliveries", "id"),
    )
    col.column_indexes("webhook_deliveries", "org_id")
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
    col.drop_tables(
        "webhook_deliveries",
        "webhooks",
        "job_runs",
        "device_status_changes",
        "device_presence",
    )
