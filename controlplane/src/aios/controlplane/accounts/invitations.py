"""Who may register an organization: ``AIOS_REGISTRATION`` and its invitations.

- ``first-user`` (the default): only the very first registration of the instance succeeds;
  it claims the :data:`~aios.controlplane.db.models.accounts.FIRST_USER_CLAIM` row, whose
  primary key makes two concurrent first registrations impossible. Later users are added by
  an organization's admins (``POST /api/v1/organizations/users``).
- ``invite``: a registration must present an invitation token made by the instance's operator
  with ``aios invite`` (single use, expiring, stored as its SHA-256).
- ``open``: anyone may register (throttled per address); for demos and trials.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aios.controlplane.accounts.bearer import new_secret, token_digest
from aios.controlplane.db.models.accounts import FIRST_USER_CLAIM, Invitation, User
from aios.controlplane.db.models.organizations import new_identifier
from aios.controlplane.db.scoped_session import system_transaction
from aios.controlplane.errors import PermissionDeniedError
from aios.controlplane.settings import RegistrationMode
from aios.controlplane.tenancy import INVITATIONS

INVITATION_PREFIX = "aios_inv_"


async def create_invitation(engine: AsyncEngine, *, ttl_s: int, note: str = "") -> str:
    """A new invitation token, valid once for ``ttl_s`` seconds (shown once, stored hashed)."""
    token = new_secret(INVITATION_PREFIX)
    now = datetime.now(UTC)
    async with system_transaction(engine, INVITATIONS) as conn:
        await conn.execute(
            insert(Invitation).values(
                id=new_identifier(),
                token_hash=token_digest(token),
                note=note[:200],
                expires_at=now + timedelta(seconds=ttl_s),
                used_at=None,
                created_at=now,
                updated_at=now,
            )
        )
    return token


async def admit(session: AsyncSession, mode: RegistrationMode, invitation: str | None) -> None:
    """Let a registration through under ``mode`` or raise :class:`PermissionDeniedError`
    (one message per mode, the same whatever the email). Spends what it checks."""
    now = datetime.now(UTC)
    if mode == "open":
        return
    if mode == "invite":
        spent = await session.execute(
            update(Invitation)
            .where(
                Invitation.token_hash == token_digest(invitation or ""),
                Invitation.used_at.is_(None),
                Invitation.expires_at > now,
            )
            .values(used_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if invitation is None or spent.rowcount != 1:  # type: ignore[attr-defined]
            raise PermissionDeniedError("registration needs a valid invitation")
        return
    closed = PermissionDeniedError("registration is closed: ask an administrator for an account")
    if await session.scalar(select(func.count()).select_from(User)):
        raise closed
    session.add(Invitation(id=FIRST_USER_CLAIM, token_hash=None, used_at=now))
    try:
        await session.flush()  # a concurrent first registration waits here, then fails
    except IntegrityError:
        raise closed from None
