"""What the accounts domain gives the composition root: the auth middleware and dependencies.

``org_scope`` is derived from the authenticated caller and stamped onto the request's
``db_session`` (a :class:`~aios.controlplane.db.scoped_session.ScopedSession`), which from then
on restricts every query to the caller's organization. A handler that asks for ``db_session``
without ``org_scope`` (or ``system_scope``) cannot read tenant data at all: its session has no
scope and refuses (fails closed). ``system_scope`` is the explicit, greppable opt-out used by the
unauthenticated endpoints (register, login, refresh, enroll).
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.middleware import DefineMiddleware
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.accounts.auth import (
    PUBLIC_PATHS,
    AuthenticationMiddleware,
    Caller,
    caller_of,
)
from aios.controlplane.accounts.principal import PrincipalLookup
from aios.controlplane.accounts.ratelimit import LoginLimiter
from aios.controlplane.accounts.services import AuthService, UserService
from aios.controlplane.accounts.tokens import TokenCodec
from aios.controlplane.db.scoped_session import SCOPE_KEY, scope_of
from aios.controlplane.errors import ControlPlaneError
from aios.controlplane.settings import Settings
from aios.controlplane.tenancy import OrgScope


def token_codec(settings: Settings) -> TokenCodec:
    return TokenCodec(
        settings.secret_key.get(),
        access_ttl_s=settings.access_token_ttl_s,
        refresh_ttl_s=settings.refresh_token_ttl_s,
    )


def auth_middleware(codec: TokenCodec, principals: PrincipalLookup) -> DefineMiddleware:
    return DefineMiddleware(
        AuthenticationMiddleware, codec=codec, principals=principals, exclude=PUBLIC_PATHS
    )


def _stamp(session: AsyncSession, scope: OrgScope) -> OrgScope:
    current = scope_of(session.sync_session)
    if current is not None and current != scope:
        raise ControlPlaneError("a request session cannot change its organization scope")
    session.info[SCOPE_KEY] = scope
    return scope


async def provide_caller(request: Request[Any, Any, Any]) -> Caller:
    return caller_of(request)


async def provide_org_scope(
    caller: NamedDependency[Caller], db_session: NamedDependency[AsyncSession]
) -> OrgScope:
    """The caller's organization, applied to the request's session."""
    return _stamp(db_session, OrgScope.single(caller.org_id))


async def provide_system_scope(db_session: NamedDependency[AsyncSession]) -> OrgScope:
    """Every organization: only for endpoints without a caller (login, enroll...)."""
    return _stamp(db_session, OrgScope.unrestricted())


async def provide_user_service(
    db_session: NamedDependency[AsyncSession], org_scope: NamedDependency[OrgScope]
) -> UserService:
    return UserService(session=db_session)


def accounts_dependencies(
    settings: Settings, codec: TokenCodec, principals: PrincipalLookup
) -> dict[str, Provide]:
    auth_service = AuthService(codec, LoginLimiter(), registration_mode=settings.registration_mode)
    return {
        "caller": Provide(provide_caller),
        "org_scope": Provide(provide_org_scope),
        "system_scope": Provide(provide_system_scope),
        "auth_service": Provide(lambda: auth_service, sync_to_thread=False),
        "token_codec": Provide(lambda: codec, sync_to_thread=False),
        "principals": Provide(lambda: principals, sync_to_thread=False),
        "user_service": Provide(provide_user_service),
    }
