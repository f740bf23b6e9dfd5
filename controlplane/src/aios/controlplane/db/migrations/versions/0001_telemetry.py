"""Organizations, devices and telemetry (detections, batches, ingest state, dead letters)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aios.controlplane.db.migrations import columns as col

revision: str = "0001_telemetry"
down_revision: str | None = None


def upgrade() -> None:
    op.create_table(
        "organizations",
        col.string("id"),
        col.string("name", 200),
        *col.timestamps(),
        col.primary_key("organizations", "id"),
    )
    op.create_table(
        "devices",
        col.string("id"),
        col.string("org_id"),
        col.string("name", 200),
        col.string("status", 16),
        sa.Column("last_seen_at", col.UTC_DATETIME, nullable=True),
        col.string("agent_version", 256, nullable=True),
        sa.Column("last_heartbeat", col.JSON, nullable=True),
        sa.Column("tags", col.JSON, nullable=False),
        *col.timestamps(),
        col.org_fk("devices"),
        col.primary_key("devices", "id"),
    )
    op.create_index("ix_devices_org_id_name", "devices", ["org_id", "name"])

    op.create_table(
        "detections",
        col.string("device_id"),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("ts", col.UTC_DATETIME, nullable=False),
        col.string("org_id"),
        col.string("stream_id"),
        sa.Column("frame_index", sa.BigInteger(), nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=False),
        col.string("label", 256),
        *col.required(sa.Float(), "confidence", "x1", "y1", "x2", "y2"),
        sa.Column("track_id", sa.BigInteger(), nullable=True),
        col.primary_key("detections", "device_id", "seq", "idx", "ts"),
    )
    op.create_index("ix_detections_org_id_ts", "detections", ["org_id", "ts"])
    op.create_index("ix_detections_device_id_ts", "detections", ["device_id", "ts"])

    op.create_table(
        "detection_batches",
        col.string("device_id"),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        col.string("org_id"),
        col.string("stream_id"),
        *col.required(sa.Integer(), "pipeline_version", "frames", "objects"),
        sa.Column("received_at", col.UTC_DATETIME, nullable=False),
        col.primary_key("detection_batches", "device_id", "seq"),
    )
    op.create_index(
        "ix_detection_batches_org_id_received_at", "detection_batches", ["org_id", "received_at"]
    )

    op.create_table(
        "ingest_state",
        col.string("device_id"),
        col.string("org_id"),
        *col.required(
            sa.BigInteger(), "first_seq", "contiguous_seq", "max_seq", "received", "duplicates"
        ),
        sa.Column("gaps", col.JSON, nullable=False),
        sa.Column("updated_at", col.UTC_DATETIME, nullable=False),
        col.primary_key("ingest_state", "device_id"),
    )
    col.column_indexes("ingest_state", "org_id")

    op.create_table(
        "dead_letters",
        sa.Column("id", col.BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("received_at", col.UTC_DATETIME, nullable=False),
        col.string("reason", 32),
        col.string("detail", 1024),
        col.string("topic", 512),
        col.string("org_id", nullable=True),
        col.string("device_id", nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_size", sa.Integer(), nullable=False),
        col.primary_key("dead_letters", "id"),
    )
    col.column_indexes("dead_letters", "org_id", "reason", "received_at")


def downgrade() -> None:
    col.drop_tables(
        "dead_letters",
        "ingest_state",
        "detection_batches",
        "detections",
        "devices",
        "organizations",
    )
