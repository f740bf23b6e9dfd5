"""The caller's current standing, read from the database on every authenticated request.

An access token says who signed in and from which login (its ``fam`` claim names the refresh
token family of that login); it does not decide what they may do now. Each request looks up,
in one indexed query (the user's primary key, and the ``family_id`` index of refresh tokens):

- that the user still exists and is active (deletion and deactivation end access at once);
- the user's current role and organization (a demotion applies to the very next request);
- that the login's refresh family is still alive (logout, and the revocation of a family
  when a spent refresh token is presented again, end the access tokens of that login too).

The token's own ``role`` and ``org`` claims are informational only.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.accounts.tokens import InvalidTokenError, TokenClaims
from aios.controlplane.db.models.accounts import RefreshToken, Role, User
from aios.controlplane.db.scoped_session import system_connection
from aios.controlplane.tenancy import CALLER_LOOKUP


class Caller(msgspec.Struct, frozen=True, kw_only=True):
    """The authenticated user of a request, as the database has them now."""

    user_id: str
    org_id: str
    role: Role


class PrincipalLookup:
    """Turns verified access-token claims into the :class:`Caller` they stand for now."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def caller(self, claims: TokenClaims) -> Caller:
        """The current caller of ``claims``; raises :class:`InvalidTokenError` when the user
        is gone or disabled, or the login was logged out or revoked."""
        if claims.fam is None:
            raise InvalidTokenError("access token without a login family")
        live_login = (
            exists()
            .where(
                RefreshToken.family_id == claims.fam,
                RefreshToken.user_id == User.id,
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > datetime.now(UTC),
            )
            .label("live_login")
        )
        query = select(User.org_id, User.role, User.is_active, live_login).where(
            User.id == claims.sub
        )
        async with system_connection(self._engine, CALLER_LOOKUP) as conn:
            row = (await conn.execute(query)).first()
        if row is None or not row.is_active:
            raise InvalidTokenError("the account no longer exists or is disabled")
        if not row.live_login:
            raise InvalidTokenError("the login was ended (logout or revoked refresh tokens)")
        try:
            role = Role(row.role)
        except ValueError:
            raise InvalidTokenError("the account has an unknown role") from None
        return Caller(user_id=claims.sub, org_id=row.org_id, role=role)
