"""HTTP handlers of the accounts domain: ``/api/v1/auth`` and ``/api/v1/organizations``."""

from __future__ import annotations

from typing import Any

import msgspec
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.accounts.auth import CAN_ADMIN, Caller
from aios.controlplane.accounts.schemas import (
    LoginRequest,
    Me,
    OrganizationOut,
    RefreshRequest,
    RegisterRequest,
    RegistrationAccepted,
    TokenPair,
    UserCreate,
    UserOut,
    UserUpdate,
)
from aios.controlplane.accounts.services import AuthService, OrganizationService, UserService
from aios.controlplane.db.models.accounts import Role, User
from aios.controlplane.db.scoped_session import bind_scope
from aios.controlplane.pagination import PAGE_DEPENDENCY, to_page
from aios.controlplane.tenancy import SystemScope

REGISTRATION_ACCEPTED = (
    "If this email could be registered, its organization and owner account now exist: "
    "sign in to continue."
)


def client_address(request: Request[Any, Any, Any]) -> str:
    """The caller's address: the TCP peer, or what a trusted proxy said (AIOS_TRUSTED_PROXIES,
    applied by the server before the application sees the request)."""
    return request.client.host if request.client else "unknown"


def _user(user: User) -> UserOut:
    return msgspec.convert(user, UserOut, from_attributes=True)


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post(
        "/register",
        exclude_from_auth=True,
        status_code=HTTP_202_ACCEPTED,
        summary="Create an organization and its owner (per AIOS_REGISTRATION)",
    )
    async def register(
        self, request: Request[Any, Any, Any], data: JSONBody[RegisterRequest],
        auth_service: NamedDependency[AuthService], db_session: NamedDependency[AsyncSession],
        system_scope: NamedDependency[SystemScope],
    ) -> RegistrationAccepted:  # fmt: skip
        """Answers 202 with the same body whether or not the email already had an account;
        sign in to continue. 403 when the registration mode does not admit the caller."""
        await auth_service.register(
            bind_scope(db_session, system_scope),
            email=data.email,
            password=data.password,
            full_name=data.full_name,
            org_name=data.organization_name,
            invitation=data.invitation,
            address=client_address(request),
        )
        return RegistrationAccepted(message=REGISTRATION_ACCEPTED)

    @post("/login", exclude_from_auth=True, status_code=HTTP_200_OK, summary="Access + refresh")
    async def login(
        self, request: Request[Any, Any, Any], data: JSONBody[LoginRequest],
        auth_service: NamedDependency[AuthService], db_session: NamedDependency[AsyncSession],
        system_scope: NamedDependency[SystemScope],
    ) -> TokenPair:  # fmt: skip
        return await auth_service.login(
            bind_scope(db_session, system_scope),
            email=data.email,
            password=data.password,
            address=client_address(request),
        )

    @post("/refresh", exclude_from_auth=True, status_code=HTTP_200_OK, summary="Rotate tokens")
    async def refresh(
        self, data: JSONBody[RefreshRequest], auth_service: NamedDependency[AuthService],
        db_session: NamedDependency[AsyncSession], system_scope: NamedDependency[SystemScope],
    ) -> TokenPair:  # fmt: skip
        return await auth_service.refresh(bind_scope(db_session, system_scope), data.refresh_token)

    @post("/logout", exclude_from_auth=True, status_code=HTTP_204_NO_CONTENT)
    async def logout(
        self, data: JSONBody[RefreshRequest], auth_service: NamedDependency[AuthService],
        db_session: NamedDependency[AsyncSession], system_scope: NamedDependency[SystemScope],
    ) -> None:  # fmt: skip
        """Revoke the refresh token and every token rotated from the same login."""
        await auth_service.logout(bind_scope(db_session, system_scope), data.refresh_token)

    @get("/me", summary="The caller and their organization")
    async def me(
        self,
        caller: NamedDependency[Caller],
        user_service: NamedDependency[UserService],
        organization_service: NamedDependency[OrganizationService],
    ) -> Me:
        user = await user_service.get(caller.user_id)
        org = await organization_service.get(caller.org_id)
        return Me(
            user=_user(user),
            organization=msgspec.convert(org, OrganizationOut, from_attributes=True),
        )


class OrganizationUsersController(Controller):
    path = "/api/v1/organizations/users"
    tags = ["organizations"]
    guards = [CAN_ADMIN]
    dependencies = PAGE_DEPENDENCY

    @get("/", summary="Users of the caller's organization")
    async def list_users(
        self, user_service: NamedDependency[UserService], page: NamedDependency[LimitOffset]
    ) -> OffsetPagination[UserOut]:
        rows, total = await user_service.get_many_and_count(page, order_by=[("created_at", False)])
        return to_page(rows, total, page, UserOut)

    @post("/", summary="Add a user with a role")
    async def add_user(
        self,
        data: JSONBody[UserCreate],
        caller: NamedDependency[Caller],
        user_service: NamedDependency[UserService],
    ) -> UserOut:
        await user_service.check_can_manage(caller.role, data.role)
        user = await user_service.create_user(
            {
                "email": data.email,
                "password": data.password,
                "full_name": data.full_name,
                "role": data.role.value,
                "org_id": caller.org_id,
            }
        )
        return _user(user)

    @get("/{user_id:str}")
    async def get_user(
        self, user_id: FromPath[str], user_service: NamedDependency[UserService]
    ) -> UserOut:
        return _user(await user_service.get(user_id))

    @patch("/{user_id:str}", summary="Change a user's name, role or active flag")
    async def update_user(
        self,
        user_id: FromPath[str],
        data: JSONBody[UserUpdate],
        caller: NamedDependency[Caller],
        user_service: NamedDependency[UserService],
    ) -> UserOut:
        user = await user_service.get(user_id)
        await user_service.check_can_manage(caller.role, Role(user.role))
        if data.role is not None:
            await user_service.check_can_manage(caller.role, data.role)
        active = user.is_active if data.is_active is None else data.is_active
        await user_service.ensure_owner_remains(user, data.role, active)
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None}
        if "role" in changes:
            changes["role"] = changes["role"].value
        return _user(await user_service.update(changes, item_id=user_id))

    @delete("/{user_id:str}", status_code=HTTP_204_NO_CONTENT)
    async def delete_user(
        self,
        user_id: FromPath[str],
        caller: NamedDependency[Caller],
        user_service: NamedDependency[UserService],
    ) -> None:
        user = await user_service.get(user_id)
        await user_service.check_can_manage(caller.role, Role(user.role))
        await user_service.ensure_owner_remains(user, None, active=False)
        await user_service.delete(user_id)


ROUTES = [AuthController, OrganizationUsersController]
