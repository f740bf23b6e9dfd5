"""Users, refresh tokens, enrollment tokens, device credentials, pipelines, deployments and
the live (WebSocket) outbox.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aios.controlplane.db.migrations import columns as col

revision: str = "0002_accounts_fleet_pipelines"
down_revision: str | None = "0001_telemetry"


def upgrade() -> None:
    op.create_table(
        "live_messages",
        sa.Column("id", col.BIGINT_PK, autoincrement=True, nullable=False),
        col.string("org_id"),
        sa.Column("created_at", col.UTC_DATETIME, nullable=False),
        sa.Column("message", col.JSON, nullable=False),
        col.primary_key("live_messages", "id"),
    )
    col.column_indexes("live_messages", "org_id", "created_at")

    op.create_table(
        "enrollment_tokens",
        col.string("id"),
        col.string("org_id"),
        col.string("name", 200),
        col.string("token_hash"),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("tags", col.JSON, nullable=False),
        sa.Column("expires_at", col.UTC_DATETIME, nullable=False),
        sa.Column("revoked_at", col.UTC_DATETIME, nullable=True),
        col.string("created_by", nullable=True),
        *col.timestamps(),
        col.org_fk("enrollment_tokens"),
        col.primary_key("enrollment_tokens", "id"),
        col.unique("enrollment_tokens", "token_hash"),
    )
    col.column_indexes("enrollment_tokens", "org_id")

    op.create_table(
        "pipelines",
        col.string("id"),
        col.string("org_id"),
        col.string("name", 128),
        col.string("description", 2000),
        sa.Column("current_version", sa.Integer(), nullable=False),
        *col.timestamps(),
        col.org_fk("pipelines"),
        col.primary_key("pipelines", "id"),
    )
    op.create_index("ix_pipelines_org_id_name", "pipelines", ["org_id", "name"])

    op.create_table(
        "users",
        col.string("id"),
        col.string("org_id"),
        col.string("email", 320),
        col.string("full_name", 200),
        col.string("password_hash", 256),
        col.string("role", 16),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        *col.timestamps(),
        col.org_fk("users"),
        col.primary_key("users", "id"),
        col.unique("users", "email"),
    )
    col.column_indexes("users", "org_id")

    op.create_table(
        "deployments",
        col.string("id"),
        col.string("org_id"),
        col.string("pipeline_id"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("selector", col.JSON, nullable=False),
        col.string("created_by", nullable=True),
        col.string("stage", 16),
        sa.Column("canary_share", sa.Float(), nullable=True),
        sa.Column("healthy_for_s", sa.Integer(), nullable=True),
        col.string("stage_reason", 1024, nullable=True),
        *col.timestamps(),
        col.org_fk("deployments"),
        col.cascade_fk("deployments", "pipeline_id", "pipelines"),
        col.primary_key("deployments", "id"),
    )
    col.column_indexes("deployments", "org_id", "stage", "pipeline_id")

    op.create_table(
        "device_credentials",
        col.string("device_id"),
        col.string("org_id"),
        col.string("mqtt_username", 128),
        col.string("password_hash", 256),
        col.string("enrollment_token_id", nullable=True),
        sa.Column("hardware", col.JSON, nullable=False),
        *col.timestamps(),
        col.device_fk("device_credentials"),
        col.org_fk("device_credentials"),
        col.primary_key("device_credentials", "device_id"),
        col.unique("device_credentials", "mqtt_username"),
    )
    col.column_indexes("device_credentials", "org_id")

    op.create_table(
        "pipeline_versions",
        col.string("id"),
        col.string("org_id"),
        col.string("pipeline_id"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", col.JSON, nullable=False),
        col.string("created_by", nullable=True),
        *col.timestamps(),
        col.org_fk("pipeline_versions"),
        col.cascade_fk("pipeline_versions", "pipeline_id", "pipelines"),
        col.primary_key("pipeline_versions", "id"),
        col.unique("pipeline_versions", "pipeline_id", "version"),
    )
    col.column_indexes("pipeline_versions", "org_id")

    op.create_table(
        "refresh_tokens",
        col.string("id"),
        col.string("org_id"),
        col.string("user_id"),
        col.string("family_id"),
        col.string("token_hash"),
        sa.Column("expires_at", col.UTC_DATETIME, nullable=False),
        sa.Column("revoked_at", col.UTC_DATETIME, nullable=True),
        *col.timestamps(),
        col.org_fk("refresh_tokens"),
        col.cascade_fk("refresh_tokens", "user_id", "users"),
        col.primary_key("refresh_tokens", "id"),
        col.unique("refresh_tokens", "token_hash"),
    )
    col.column_indexes("refresh_tokens", "family_id", "org_id", "user_id")

    op.create_table(
        "deployment_targets",
        col.string("deployment_id"),
        col.string("device_id"),
        col.string("org_id"),
        col.string("status", 16),
        sa.Column("canary", sa.Boolean(), nullable=False),
        col.string("error", 1024, nullable=True),
        col.string("node", nullable=True),
        col.string("field", 256, nullable=True),
        sa.Column("active_version", sa.Integer(), nullable=True),
        sa.Column("reported_at", col.UTC_DATETIME, nullable=True),
        *col.timestamps(),
        col.cascade_fk("deployment_targets", "deployment_id", "deployments"),
        col.device_fk("deployment_targets"),
        col.org_fk("deployment_targets"),
        col.primary_key("deployment_targets", "deployment_id", "device_id"),
    )
    col.column_indexes("deployment_targets", "org_id")


def downgrade() -> None:
    col.drop_tables(
        "live_messages",
        "deployment_targets",
        "refresh_tokens",
        "pipeline_versions",
        "device_credentials",
        "deployments",
        "users",
        "pipelines",
        "enrollment_tokens",
    )
