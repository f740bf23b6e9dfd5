"""Tombstones of deleted devices: the ingest never auto-registers them again.

Revision ID: 0007_device_tombstones
Revises: 0004_presence_jobs_notifications
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_device_tombstones"
down_revision: str | None = "0006_ingest_ack"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_tombstones",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_device_tombstones_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_tombstones")),
    )
    op.create_index(op.f("ix_device_tombstones_org_id"), "device_tombstones", ["org_id"])


def downgrade() -> None:
    op.drop_table("device_tombstones")
