"""Event acknowledgements and heartbeat history (what the operator's console shows).

Revision ID: 0009_console
Revises: 0004_presence_jobs_notifications
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_console"
down_revision: str | None = "0008_accounts_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def _fks(table: str) -> list[sa.ForeignKeyConstraint]:
    return [
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f(f"fk_{table}_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f(f"fk_{table}_org_id_organizations"),
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "event_acknowledgements",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("acknowledged_at", UTC_DATETIME, nullable=False),
        *_fks("event_acknowledgements"),
        sa.PrimaryKeyConstraint("device_id", "event_id", name=op.f("pk_event_acknowledgements")),
    )
    op.create_index(
        "ix_event_acknowledgements_org_id_acknowledged_at",
        "event_acknowledgements",
        ["org_id", "acknowledged_at"],
    )
    op.create_table(
        "heartbeat_samples",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("ts", UTC_DATETIME, nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("cpu_percent", sa.Float(), nullable=True),
        sa.Column("mem_percent", sa.Float(), nullable=True),
        sa.Column("temperature_c", sa.Float(), nullable=True),
        sa.Column("inference_ms_p50", sa.Float(), nullable=True),
        sa.Column("inference_ms_p95", sa.Float(), nullable=True),
        sa.Column("fps", sa.Float(), nullable=True),
        sa.Column("spool_depth", sa.Integer(), nullable=True),
        *_fks("heartbeat_samples"),
        sa.PrimaryKeyConstraint("device_id", "ts", name=op.f("pk_heartbeat_samples")),
    )
    op.create_index("ix_heartbeat_samples_ts", "heartbeat_samples", ["ts"])
    op.create_index(op.f("ix_heartbeat_samples_org_id"), "heartbeat_samples", ["org_id"])


def downgrade() -> None:
    op.drop_table("heartbeat_samples")
    op.drop_table("event_acknowledgements")
