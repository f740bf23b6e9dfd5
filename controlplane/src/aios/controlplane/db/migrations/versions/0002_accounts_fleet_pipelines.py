"""Users, refresh tokens, enrollment tokens, device credentials, pipelines, deployments and
the live (WebSocket) outbox.
"""

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
    unique,
)

revision: str = "0002_accounts_fleet_pipelines"
down_revision: str | None = "0001_telemetry"


def upgrade() -> None:
    op.create_table(
        "live_messages",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        string("org_id"),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("message", JSON, nullable=False),
        primary_key("live_messages", "id"),
    )
    column_indexes("live_messages", "org_id", "created_at")

    op.create_table(
        "enrollment_tokens",
        string("id"),
        string("org_id"),
        string("name", 200),
        string("token_hash"),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("revoked_at", UTC_DATETIME, nullable=True),
        string("created_by", nullable=True),
        *timestamps(),
        org_fk("enrollment_tokens"),
        primary_key("enrollment_tokens", "id"),
        unique("enrollment_tokens", "token_hash"),
    )
    column_indexes("enrollment_tokens", "org_id")

    op.create_table(
        "pipelines",
        string("id"),
        string("org_id"),
        string("name", 128),
        string("description", 2000),
        sa.Column("current_version", sa.Integer(), nullable=False),
        *timestamps(),
        org_fk("pipelines"),
        primary_key("pipelines", "id"),
    )
    op.create_index("ix_pipelines_org_id_name", "pipelines", ["org_id", "name"])

    op.create_table(
        "users",
        string("id"),
        string("org_id"),
        string("email", 320),
        string("full_name", 200),
        string("password_hash", 256),
        string("role", 16),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        *timestamps(),
        org_fk("users"),
        primary_key("users", "id"),
        unique("users", "email"),
    )
    column_indexes("users", "org_id")

    op.create_table(
        "deployments",
        string("id"),
        string("org_id"),
        string("pipeline_id"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("selector", JSON, nullable=False),
        string("created_by", nullable=True),
        string("stage", 16),
        sa.Column("canary_share", sa.Float(), nullable=True),
        sa.Column("healthy_for_s", sa.Integer(), nullable=True),
        string("stage_reason", 1024, nullable=True),
        *timestamps(),
        org_fk("deployments"),
        cascade_fk("deployments", "pipeline_id", "pipelines"),
        primary_key("deployments", "id"),
    )
    column_indexes("deployments", "org_id", "stage", "pipeline_id")

    op.create_table(
        "device_credentials",
        string("device_id"),
        string("org_id"),
        string("mqtt_username", 128),
        string("password_hash", 256),
        string("enrollment_token_id", nullable=True),
        sa.Column("hardware", JSON, nullable=False),
        *timestamps(),
        device_fk("device_credentials"),
        org_fk("device_credentials"),
        primary_key("device_credentials", "device_id"),
        unique("device_credentials", "mqtt_username"),
    )
    column_indexes("device_credentials", "org_id")

    op.create_table(
        "pipeline_versions",
        string("id"),
        string("org_id"),
        string("pipeline_id"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        string("created_by", nullable=True),
        *timestamps(),
        org_fk("pipeline_versions"),
        cascade_fk("pipeline_versions", "pipeline_id", "pipelines"),
        primary_key("pipeline_versions", "id"),
        unique("pipeline_versions", "pipeline_id", "version"),
    )
    column_indexes("pipeline_versions", "org_id")

    op.create_table(
        "refresh_tokens",
        string("id"),
        string("org_id"),
        string("user_id"),
        string("family_id"),
        string("token_hash"),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("revoked_at", UTC_DATETIME, nullable=True),
        *timestamps(),
        org_fk("refresh_tokens"),
        cascade_fk("refresh_tokens", "user_id", "users"),
        primary_key("refresh_tokens", "id"),
        unique("refresh_tokens", "token_hash"),
    )
    column_indexes("refresh_tokens", "family_id", "org_id", "user_id")

    op.create_table(
        "deployment_targets",
        string("deployment_id"),
        string("device_id"),
        string("org_id"),
        string("status", 16),
        sa.Column("canary", sa.Boolean(), nullable=False),
        string("error", 1024, nullable=True),
        string("node", nullable=True),
        string("field", 256, nullable=True),
        sa.Column("active_version", sa.Integer(), nullable=True),
        sa.Column("reported_at", UTC_DATETIME, nullable=True),
        *timestamps(),
        cascade_fk("deployment_targets", "deployment_id", "deployments"),
        device_fk("deployment_targets"),
        org_fk("deployment_targets"),
        primary_key("deployment_targets", "deployment_id", "device_id"),
    )
    column_indexes("deployment_targets", "org_id")


def downgrade() -> None:
    drop_tables(
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
