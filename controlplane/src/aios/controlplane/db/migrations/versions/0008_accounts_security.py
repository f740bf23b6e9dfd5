"""Invitations to register (and the first-user claim)."""

from __future__ import annotations

from alembic import op

from aios.controlplane.db.migrations import columns as col

revision: str = "0008_accounts_security"
down_revision: str | None = "0007_device_tombstones"


def upgrade() -> None:
    op.create_table(
        "invitations",
        col.string("id"),
        col.string("token_hash", nullable=True),
        col.string("note", 200),
        *col.optional(col.UTC_DATETIME, "expires_at", "used_at"),
        *col.timestamps(),
        col.primary_key("invitations", "id"),
        col.unique("invitations", "token_hash"),
    )


def downgrade() -> None:
    op.drop_table("invitations")
