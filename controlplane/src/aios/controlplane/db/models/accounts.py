"""Users and their refresh tokens (accounts domain).

Email addresses are unique across organizations (one login, one organization), stored
lower-cased. Refresh tokens are stored as the SHA-256 of the token, never the token itself; a
rotated or revoked token keeps its row so that its reuse is detected (the whole ``family_id``
is then revoked).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from aios.controlplane.db.base import AuditBase
from aios.controlplane.db.models.organizations import new_identifier


class Role(str, enum.Enum):
    """What a user may do in their organization (each role includes the ones below it)."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def includes(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2, Role.OWNER: 3}


class User(AuditBase):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_identifier)
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default=Role.VIEWER.value)
    is_active: Mapped[bool] = mapped_column(default=True)


class RefreshToken(AuditBase):
    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_identifier)
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


FIRST_USER_CLAIM = "first-user"
"""The id of the row that the first registration claims (``AIOS_REGISTRATION=first-user``)."""


class Invitation(AuditBase):
    """A single-use right to register an organization (``AIOS_REGISTRATION=invite``).

    Made by the instance's operator (``aios invite``), stored as the SHA-256 of the token and
    spent by one conditional update. The row with id :data:`FIRST_USER_CLAIM` (no token) is
    the claim of the first registration: its primary key makes that claim atomic.
    """

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_identifier)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    note: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    used_at: Mapped[datetime | None] = mapped_column(default=None)
