"""Accounts services: users (generic CRUD with hooks), registration, login, token rotation.

:class:`UserService` is Advanced Alchemy's generic service with one hook (the password is
hashed on create). :class:`AuthService` holds what is not CRUD: registering an organization
with its owner, login with rate limiting, and rotating refresh tokens with reuse detection.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from advanced_alchemy.exceptions import IntegrityError
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError as DatabaseIntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.accounts.bearer import token_digest
from aios.controlplane.accounts.invitations import admit
from aios.controlplane.accounts.password_policy import check_password
from aios.controlplane.accounts.passwords import hash_password, verify_password
from aios.controlplane.accounts.ratelimit import LoginLimiter, SlidingWindowLimiter
from aios.controlplane.accounts.schemas import TokenPair
from aios.controlplane.accounts.tokens import InvalidTokenError, TokenCodec, TokenType
from aios.controlplane.db.models.accounts import RefreshToken, Role, User
from aios.controlplane.db.models.organizations import Organization, new_identifier
from aios.controlplane.errors import (
    AuthenticationError,
    ConflictError,
    PermissionDeniedError,
    RateLimitedError,
)
from aios.controlplane.settings import RegistrationMode

REGISTRATIONS_PER_HOUR = 10
"""Registration attempts allowed per client address and hour."""


class OrganizationRepository(SQLAlchemyAsyncRepository[Organization]):
    model_type = Organization


class OrganizationService(SQLAlchemyAsyncRepositoryService[Organization, OrganizationRepository]):
    repository_type = OrganizationRepository


class UserRepository(SQLAlchemyAsyncRepository[User]):
    model_type = User


class UserService(SQLAlchemyAsyncRepositoryService[User, UserRepository]):
    """Users of the session's organization (the session's scope filters every query)."""

    repository_type = UserRepository

    async def to_model_on_create(self, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            check_password(data["password"], email=str(data.get("email", "")))
            data = dict(data)
            data["password_hash"] = await hash_password(data.pop("password"))
            data["email"] = str(data["email"]).lower()
        return data

    async def create_user(self, data: dict[str, Any]) -> User:
        try:
            return await self.create(data)
        except IntegrityError:
            raise ConflictError("an account with this email exists", field="email") from None

    async def check_can_manage(self, actor_role: Role, target_role: Role) -> None:
        """An admin manages users up to admin; only an owner grants or changes owner."""
        if target_role is Role.OWNER and actor_role is not Role.OWNER:
            raise PermissionDeniedError("only an owner can grant or change the owner role")

    async def ensure_owner_remains(self, user: User, new_role: Role | None, active: bool) -> None:
        if user.role != Role.OWNER.value or (new_role in (None, Role.OWNER) and active):
            return
        owners = await self.count(User.role == Role.OWNER.value, User.is_active.is_(True))
        if owners <= 1:
            raise ConflictError("an organization keeps at least one active owner", field="role")


class AuthService:
    """Registration, login and refresh-token rotation (in a session bound to a ``SystemScope``)."""

    def __init__(
        self,
        codec: TokenCodec,
        limiter: LoginLimiter,
        *,
        registration_mode: RegistrationMode = "first-user",
        registrations_per_hour: int = REGISTRATIONS_PER_HOUR,
    ) -> None:
        self.codec = codec
        self.limiter = limiter
        self.registration_mode: RegistrationMode = registration_mode
        self.registrations = SlidingWindowLimiter(registrations_per_hour, 3600.0)

    async def register(
        self,
        session: AsyncSession,
        *,
        email: str,
        password: str,
        full_name: str,
        org_name: str,
        invitation: str | None,
        address: str,
    ) -> None:
        """Create an organization and its owner, if the mode admits it and the email is free.

        Returns the same way whether or not the email already has an account (then nothing is
        created, and an invitation is spent all the same), after the same argon2 work: the
        answer cannot tell which emails are registered. Throttled per client address.
        """
        wait = self.registrations.retry_after(address)
        if wait is not None:
            raise RateLimitedError("too many registrations", retry_after_s=wait)
        self.registrations.hit(address)
        check_password(password, email=email)
        email = email.lower()
        password_hash = await hash_password(password)
        await admit(session, self.registration_mode, invitation)
        if await session.scalar(select(User.id).where(User.email == email)) is not None:
            return
        org = Organization(id=new_identifier(), name=org_name)
        session.add(org)
        await session.flush()  # no ORM relationship orders the inserts: the org goes first
        session.add(
            User(
                id=new_identifier(),
                org_id=org.id,
                email=email,
                full_name=full_name,
                password_hash=password_hash,
                role=Role.OWNER.value,
                is_active=True,
            )
        )
        try:
            await session.flush()
        except DatabaseIntegrityError:  # the same email registered at the same moment
            await session.rollback()

    async def create_owner(
        self, session: AsyncSession, *, email: str, password: str, full_name: str, org_name: str
    ) -> tuple[Organization, User]:
        """An organization and its owner, for an operator on the database itself (``aios users
        create-owner``): no registration mode or throttle applies, the password policy does,
        and a taken email is a conflict (the operator is not an anonymous caller)."""
        check_password(password, email=email)
        email = email.lower()
        if await session.scalar(select(User.id).where(User.email == email)) is not None:
            raise ConflictError("an account with this email exists", field="email")
        org = Organization(id=new_identifier(), name=org_name)
        session.add(org)
        await session.flush()
        user = User(
            id=new_identifier(),
            org_id=org.id,
            email=email,
            full_name=full_name,
            password_hash=await hash_password(password),
            role=Role.OWNER.value,
            is_active=True,
        )
        session.add(user)
        await session.flush()
        return org, user

    async def login(
        self, session: AsyncSession, *, email: str, password: str, address: str
    ) -> TokenPair:
        account = email.lower()
        wait = self.limiter.check(account, address)
        if wait is not None:
            raise RateLimitedError("too many login attempts", retry_after_s=wait)
        user = await session.scalar(select(User).where(User.email == account))
        ok = await verify_password(user.password_hash if user else None, password)
        if user is None or not ok or not user.is_active:
            self.limiter.failed(account, address)
            raise AuthenticationError("wrong email or password")
        self.limiter.succeeded(account, address)
        return await self._issue(session, user, family_id=new_identifier())

    async def refresh(self, session: AsyncSession, refresh_token: str) -> TokenPair:
        """Exchange a refresh token for a new pair; the old one is spent.

        Spending is one conditional ``UPDATE ... WHERE revoked_at IS NULL``: of several
        requests presenting the same token at once, exactly one matches a row (PostgreSQL
        re-checks the condition after the row lock; SQLite serializes writers), the others
        see a spent token. Presenting a spent or revoked token again revokes its whole family:
        either the client or an attacker holds a stolen copy, and both must log in again.
        """
        claims = self.codec.verify(refresh_token, TokenType.REFRESH)
        digest = token_digest(refresh_token)
        now = datetime.now(UTC)
        spent = await session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.token_hash == digest,
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > now,
            )
            .values(revoked_at=now)
            .returning(RefreshToken.family_id, RefreshToken.user_id)
            .execution_options(synchronize_session=False)
        )
        won = spent.first()
        if won is None:
            row = await session.scalar(
                select(RefreshToken).where(RefreshToken.token_hash == digest)
            )
            if row is None:
                raise InvalidTokenError("unknown refresh token")
            if row.revoked_at is not None:
                await self._revoke_family(session, row.family_id, now)
                await session.commit()  # kept although the request fails (a 401 rolls back)
                raise InvalidTokenError("refresh token reused: its family is revoked")
            raise InvalidTokenError("refresh token expired")
        user = await session.get(User, claims.sub)
        if user is None or not user.is_active or user.id != won.user_id:
            raise InvalidTokenError("account disabled")
        return await self._issue(session, user, family_id=won.family_id)

    async def logout(self, session: AsyncSession, refresh_token: str) -> None:
        self.codec.verify(refresh_token, TokenType.REFRESH)
        row = await session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == token_digest(refresh_token))
        )
        if row is not None:
            await self._revoke_family(session, row.family_id, datetime.now(UTC))

    async def _revoke_family(self, session: AsyncSession, family_id: str, now: datetime) -> None:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )

    async def _issue(self, session: AsyncSession, user: User, *, family_id: str) -> TokenPair:
        issue = partial(
            self.codec.issue,
            user_id=user.id,
            org_id=user.org_id,
            role=user.role,
            family_id=family_id,
        )
        access, _ = issue(TokenType.ACCESS)
        refresh, claims = issue(TokenType.REFRESH)
        session.add(
            RefreshToken(
                id=new_identifier(),
                org_id=user.org_id,
                user_id=user.id,
                family_id=family_id,
                token_hash=token_digest(refresh),
                expires_at=datetime.fromtimestamp(claims.exp, UTC),
            )
        )
        await session.flush()
        return TokenPair(
            access_token=access,
            refresh_token=refresh,
            expires_in=self.codec.access_ttl_s,
            refresh_expires_in=self.codec.refresh_ttl_s,
        )
