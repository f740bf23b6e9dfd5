"""Tombstones of deleted devices: the ingest never auto-registers them again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aios.controlplane.db.migrations.columns import (
    UTC_DATETIME,
    column_indexes,
    org_fk,
    primary_key,
    string,
)

revision: str = "0007_device_tombstones"
down_revision: str | None = "0006_ingest_ack"


def upgrade() -> None:
    op.create_table(
        "device_tombstones",
        string("device_id"),
        string("org_id"),
        sa.Column("deleted_at", UTC_DATETIME, nullable=False),
        org_fk("device_tombstones"),
        primary_key("device_tombstones", "device_id"),
    )
    column_indexes("device_tombstones", "org_id")


def downgrade() -> None:
    op.drop_table("device_tombstones")
