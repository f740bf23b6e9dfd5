"""Organizations, devices and telemetry (detections, batches, ingest state, dead letters)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aios.controlplane.db.migrations.columns import (
    BIGINT_PK,
    JSON,
    UTC_DATETIME,
    column_indexes,
    drop_tables,
    org_fk,
    primary_key,
    required,
    string,
    timestamps,
)

revision: str = "0001_telemetry"
down_revision: str | None = None


def upgrade() -> None:
    op.create_table(
        "organizations",
        string("id"),
        string("name", 200),
        *timestamps(),
        primary_key("organizations", "id"),
    )
    op.create_table(
        "devices",
        string("id"),
        string("org_id"),
        string("name", 200),
        string("status", 16),
        sa.Column("last_seen_at", UTC_DATETIME, nullable=True),
        string("agent_version", 256, nullable=True),
        sa.Column("last_heartbeat", JSON, nullable=True),
        sa.Column("tags", JSON, nullable=False),
        *timestamps(),
        org_fk("devices"),
        primary_key("devices", "id"),
    )
    op.create_index("ix_devices_org_id_name", "devices", ["org_id", "name"])

    op.create_table(
        "detections",
        string("device_id"),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("ts", UTC_DATETIME, nullable=False),
        string("org_id"),
        string("stream_id"),
        sa.Column("frame_index", sa.BigInteger(), nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=False),
        string("label", 256),
        *required(sa.Float(), "confidence", "x1", "y1", "x2", "y2"),
        sa.Column("track_id", sa.BigInteger(), nullable=True),
        primary_key("detections", "device_id", "seq", "idx", "ts"),
    )
    op.create_index("ix_detections_org_id_ts", "detections", ["org_id", "ts"])
    op.create_index("ix_detections_device_id_ts", "detections", ["device_id", "ts"])

    op.create_table(
        "detection_batches",
        string("device_id"),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        string("org_id"),
        string("stream_id"),
        *required(sa.Integer(), "pipeline_version", "frames", "objects"),
        sa.Column("received_at", UTC_DATETIME, nullable=False),
        primary_key("detection_batches", "device_id", "seq"),
    )
    op.create_index(
        "ix_detection_batches_org_id_received_at", "detection_batches", ["org_id", "received_at"]
    )

    op.create_table(
        "ingest_state",
        string("device_id"),
        string("org_id"),
        *required(
            sa.BigInteger(), "first_seq", "contiguous_seq", "max_seq", "received", "duplicates"
        ),
        sa.Column("gaps", JSON, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        primary_key("ingest_state", "device_id"),
    )
    column_indexes("ingest_state", "org_id")

    op.create_table(
        "dead_letters",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("received_at", UTC_DATETIME, nullable=False),
        string("reason", 32),
        string("detail", 1024),
        string("topic", 512),
        string("org_id", nullable=True),
        string("device_id", nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_size", sa.Integer(), nullable=False),
        primary_key("dead_letters", "id"),
    )
    column_indexes("dead_letters", "org_id", "reason", "received_at")


def downgrade() -> None:
    drop_tables(
        "dead_letters",
        "ingest_state",
        "detection_batches",
        "detections",
        "devices",
        "organizations",
    )
