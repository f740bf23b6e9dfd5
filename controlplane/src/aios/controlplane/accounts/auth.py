"""Who is calling: the authentication middleware, the caller, and role guards.

The middleware verifies the access token, then asks :class:`PrincipalLookup` for the caller's
current role and state (one indexed query per request, see
:mod:`aios.controlplane.accounts.principal`): a role change, a deactivation, a deletion, a logout
or a revoked token family takes effect on the next request, not when the token expires.

Every route is authenticated by :class:`AuthenticationMiddleware` unless its handler says
``exclude_from_auth=True`` (registration, login, refresh, device enrollment, health, docs). HTTP
callers send ``Authorization: Bearer <access token>``; WebSocket callers may pass
``?token=<access token>`` instead (browsers cannot set headers on a WebSocket). The middleware
puts a :class:`Caller` in ``connection.user``; guards built by :func:`requires` check its role.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.handlers import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp, Guard, Scopes

from aios.controlplane.accounts.principal import Caller, PrincipalLookup
from aios.controlplane.accounts.tokens import TokenCodec, TokenType
from aios.controlplane.db.models.accounts import Role
from aios.controlplane.errors import AuthenticationError, PermissionDeniedError

PUBLIC_PATHS = ["/health", "/docs", "/schema"]


__all__ = ["CAN_ADMIN", "CAN_OPERATE", "CAN_READ", "AuthenticationMiddleware", "Caller"]


class AuthenticationMiddleware(AbstractAuthenticationMiddleware):
    """Verifies the access token of every request that is not excluded from authentication."""

    def __init__(
        self,
        app: ASGIApp,
        codec: TokenCodec,
        principals: PrincipalLookup,
        exclude: list[str] | None = None,
        scopes: Scopes | None = None,
    ) -> None:
        super().__init__(
            app, exclude=exclude if exclude is not None else PUBLIC_PATHS, scopes=scopes
        )
        self._codec = codec
        self._principals = principals

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        token = _bearer_token(connection)
        if token is None:
            raise AuthenticationError("missing bearer token")
        claims = self._codec.verify(token, TokenType.ACCESS)
        caller = await self._principals.caller(claims)
        return AuthenticationResult(user=caller, auth=claims)


def _bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    if connection.scope["type"] == ScopeType.WEBSOCKET:
        return connection.query_params.get("token") or None
    return None


def caller_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Caller:
    user = connection.scope.get("user")
    if not isinstance(user, Caller):
        raise AuthenticationError("not authenticated")
    return user


def requires(role: Role) -> Guard:
    """A guard letting through callers whose role includes ``role``."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if not caller_of(connection).role.includes(role):
            raise PermissionDeniedError(f"requires the {role.value} role")

    guard.__name__ = f"requires_{role.value}"
    return guard


CAN_READ = requires(Role.VIEWER)
CAN_OPERATE = requires(Role.OPERATOR)
CAN_ADMIN = requires(Role.ADMIN)
