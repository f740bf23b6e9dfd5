"""Organizations, devices and telemetry (detections, batches, ingest state, dead letters).

Revision ID: 0001_telemetry
Revises:
Create Date: 2025-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_telemetry"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_seen_at", UTC_DATETIME, nullable=True),
        sa.Column("agent_version", sa.String(256), nullable=True),
        sa.Column("last_heartbeat", JSON, nullable=True),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_devices_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
    )
    op.create_index("ix_devices_org_id_name", "devices", ["org_id", "name"])

    op.create_table(
        "detections",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("ts", UTC_DATETIME, nullable=False),
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("stream_id", sa.String(64), nullable=False),
        sa.Column("frame_index", sa.BigInteger(), nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(256), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("x1", sa.Float(), nullable=False),
        sa.Column("y1", sa.Float(), nullable=False),
        sa.Column("x2", sa.Float(), nullable=False),
        sa.Column("y2", sa.Float(), nullable=False),
        sa.Column("track_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("device_id", "seq", "idx", "ts", name=op.f("pk_detections")),
    )
    op.create_index("ix_detections_org_id_ts", "detections", ["org_id", "ts"])
    op.create_index("ix_detections_device_id_ts", "detections", ["device_id", "ts"])

    op.create_table(
        "detection_batches",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("stream_id", sa.String(64), nullable=False),
        sa.Column("pipeline_version", sa.Integer(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("objects", sa.Integer(), nullable=False),
        sa.Column("received_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("device_id", "seq", name=op.f("pk_detection_batches")),
    )
    op.create_index(
        "ix_detection_batches_org_id_received_at", "detection_batches", ["org_id", "received_at"]
    )

    op.create_table(
        "ingest_state",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("contiguous_seq", sa.BigInteger(), nullable=False),
        sa.Column("max_seq", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("duplicates", sa.BigInteger(), nullable=False),
        sa.Column("gaps", JSON, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_ingest_state")),
    )
    op.create_index(op.f("ix_ingest_state_org_id"), "ingest_state", ["org_id"])

    op.create_table(
        "dead_letters",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("received_at", UTC_DATETIME, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(1024), nullable=False),
        sa.Column("topic", sa.String(512), nullable=False),
        sa.Column("org_id", sa.String(64), nullable=True),
        sa.Column("device_id", sa.String(64), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index(op.f("ix_dead_letters_org_id"), "dead_letters", ["org_id"])
    op.create_index(op.f("ix_dead_letters_reason"), "dead_letters", ["reason"])
    op.create_index(op.f("ix_dead_letters_received_at"), "dead_letters", ["received_at"])


def downgrade() -> None:
    for table in (
        "dead_letters",
        "ingest_state",
        "detection_batches",
        "detections",
        "devices",
        "organizations",
    ):
        op.drop_table(table)
