"""Invitations to register (and the first-user claim)."""

from __future__ import annotations

from alembic import op

from aios.controlplane.db.migrations.columns import (
    UTC_DATETIME,
    optional,
    primary_key,
    string,
    timestamps,
    unique,
)

revision: str = "0008_accounts_security"
down_revision: str | None = "0007_device_tombstones"


def upgrade() -> None:
    op.create_table(
        "invitations",
        string("id"),
        string("token_hash", nullable=True),
        string("note", 200),
        *optional(UTC_DATETIME, "expires_at", "used_at"),
        *timestamps(),
        primary_key("invitations", "id"),
        unique("invitations", "token_hash"),
    )


def downgrade() -> None:
    op.drop_table("invitations")
