"""What the accounts domain gives the composition root: the auth middleware and dependencies.

``org_scope`` is the authenticated caller's organization; ``system_scope`` the explicit,
greppable opt-out of the endpoints without a caller (register, login, refresh, logout, enroll,
snapshot upload, the EMQX hooks). Neither touches the request's ``db_session`` (a
:class:`~aios.controlplane.db.scoped_session.ScopedSession`): whoever receives a scope binds the
session to it (:func:`~aios.controlplane.db.scoped_session.bind_scope`; services through
:func:`~aios.controlplane.scoped_services.scoped_service`). A session nobody bound refuses
tenant data (fails closed).
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.middleware import DefineMiddleware

from aios.controlplane.accounts.auth import (
    PUBLIC_PATHS,
    AuthenticationMiddleware,
    Caller,
    caller_of,
)
from aios.controlplane.accounts.principal import PrincipalLookup
from aios.controlplane.accounts.ratelimit import LoginLimiter
from aios.controlplane.accounts.services import AuthService, OrganizationService, UserService
from aios.controlplane.accounts.tokens import TokenCodec
from aios.controlplane.scoped_services import scoped_service
from aios.controlplane.settings import Settings
from aios.controlplane.tenancy import OrgScope, SystemScope


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


async def provide_caller(request: Request[Any, Any, Any]) -> Caller:
    return caller_of(request)


async def provide_org_scope(caller: NamedDependency[Caller]) -> OrgScope:
    """The caller's organization."""
    return OrgScope(org_id=caller.org_id)


async def provide_system_scope(request: Request[Any, Any, Any]) -> SystemScope:
    """Every organization, for an endpoint without a caller; names the endpoint."""
    return SystemScope(path=f"{request.method} {request.scope['path_template']}")


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
        "user_service": scoped_service(UserService),
        "organization_service": scoped_service(OrganizationService),
    }
