"""Detections carry the zones they stood in; detection counts per zone.

Revision ID: 0010_zones
Revises: 0009_console
Create Date: 2026-12-07

``detections.zones`` is a nullable column: adding it rewrites nothing (plain, partitioned or a
TimescaleDB hypertable, compressed chunks included). The zone rollups are plain tables on every
backend (see :mod:`aios.controlplane.db.models.zone_rollups`).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_zones"
down_revision: str | None = "0009_console"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
ZONES_LENGTH = 16 * 65  # aios.shared.messages.MAX_ZONES ids of 64 characters, and commas


COUNT_COLUMNS = (  # those of detection_counts_*, then the zone (as the models order them)
    ("org_id", sa.String(64)),
    ("bucket", UTC_DATETIME),
    ("device_id", sa.String(64)),
    ("stream_id", sa.String(64)),
    ("label", sa.String(256)),
    ("count", sa.BigInteger()),
    ("zone_id", sa.String(64)),
)


def _zone_rollup(name: str) -> None:
    op.create_table(
        name,
        *(sa.Column(column, kind, nullable=False) for column, kind in COUNT_COLUMNS),
        sa.PrimaryKeyConstraint(
            *(column for column, _ in COUNT_COLUMNS if column != "count"), name=op.f(f"pk_{name}")
        ),
    )


def upgrade() -> None:
    op.add_column("detections", sa.Column("zones", sa.String(ZONES_LENGTH), nullable=True))
    _zone_rollup("detection_zone_counts_1m")
    _zone_rollup("detection_zone_counts_1h")


def downgrade() -> None:
    op.drop_table("detection_zone_counts_1h")
    op.drop_table("detection_zone_counts_1m")
    op.drop_column("detections", "zones")
