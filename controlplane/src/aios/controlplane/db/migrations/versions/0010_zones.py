"""Detections carry the zones they stood in; detection counts per zone; the hourly heartbeat
rollup.

Revision ID: 0010_zones
Revises: 0009_console
Create Date: 2026-12-07

``detections.zones`` is a nullable column: adding it rewrites nothing (plain, partitioned or a
TimescaleDB hypertable, compressed chunks included). The zone rollups are plain tables on every
backend (see :mod:`aios.controlplane.db.models.rollups`). ``heartbeat_rollups_1h`` holds the
hourly averages of ``heartbeat_samples`` (same columns, plus ``samples``).
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


HEALTH = ("cpu_percent", "mem_percent", "temperature_c", "inference_ms_p50", "inference_ms_p95")


def _heartbeat_rollup() -> None:
    name = "heartbeat_rollups_1h"
    owners = (("device_id", "devices"), ("org_id", "organizations"))
    op.create_table(
        name,
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("ts", UTC_DATETIME, nullable=False),
        sa.Column("org_id", sa.String(64), nullable=False),
        *(sa.Column(metric, sa.Float(), nullable=True) for metric in (*HEALTH, "fps")),
        sa.Column("spool_depth", sa.Integer(), nullable=True),
        sa.Column("samples", sa.Integer(), nullable=False),
        *(
            sa.ForeignKeyConstraint(
                [column], [f"{table}.id"], name=op.f(f"fk_{name}_{column}_{table}"),
                ondelete="CASCADE",
            )
            for column, table in owners
        ),
        sa.PrimaryKeyConstraint("device_id", "ts", name=op.f(f"pk_{name}")),
    )  # fmt: skip
    op.create_index(f"ix_{name}_ts", name, ["ts"])
    op.create_index(op.f(f"ix_{name}_org_id"), name, ["org_id"])


def upgrade() -> None:
    op.add_column("detections", sa.Column("zones", sa.String(ZONES_LENGTH), nullable=True))
    _zone_rollup("detection_zone_counts_1m")
    _zone_rollup("detection_zone_counts_1h")
    _heartbeat_rollup()


def downgrade() -> None:
    op.drop_table("heartbeat_rollups_1h")
    op.drop_table("detection_zone_counts_1h")
    op.drop_table("detection_zone_counts_1m")
    op.drop_column("detections", "zones")
