"""Tombstones of deleted devices: the ingest never auto-registers them again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aios.controlplane.db.migrations import columns as col

revision: str = "0007_device_tombstones"
down_revision: str | None = "0006_ingest_ack"


def upgrade() -> None:
    op.create_table(
        "device_tombstones",
        col.string("device_id"),
        col.string("org_id"),
        sa.Column("deleted_at", col.UTC_DATETIME, nullable=False),
        col.org_fk("device_tombstones"),
        col.primary_key("device_tombstones", "device_id"),
    )
    col.column_indexes("device_tombstones", "org_id")


def downgrade() -> None:
    op.drop_table("device_tombstones")
