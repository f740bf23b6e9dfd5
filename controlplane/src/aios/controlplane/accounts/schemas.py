"""REST shapes of the accounts domain (request bodies are validated by msgspec)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from aios.controlplane.db.models.accounts import Role

Email = Annotated[
    str, Meta(min_length=3, max_length=320, pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")
]
Password = Annotated[str, Meta(min_length=10, max_length=256)]
FullName = Annotated[str, Meta(min_length=1, max_length=200)]
OrgName = Annotated[str, Meta(min_length=1, max_length=200)]
TokenText = Annotated[str, Meta(min_length=1, max_length=4096)]


class RegisterRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    email: Email
    password: Password
    full_name: FullName
    organization_name: OrgName
    invitation: TokenText | None = None
    """Needed when the instance registers by invitation only (``AIOS_REGISTRATION=invite``)."""


class LoginRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    email: Annotated[str, Meta(min_length=1, max_length=320)]
    password: Annotated[str, Meta(min_length=1, max_length=256)]


class RefreshRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    refresh_token: TokenText


class UserCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    email: Email
    password: Password
    full_name: FullName
    role: Role = Role.VIEWER


class UserUpdate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    full_name: FullName | None = None
    role: Role | None = None
    is_active: bool | None = None


class OrganizationOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    created_at: datetime


class UserOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    org_id: str
    email: str
    full_name: str
    role: Role
    is_active: bool
    created_at: datetime


class TokenPair(msgspec.Struct, frozen=True, kw_only=True):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = 0
    refresh_expires_in: int = 0


class RegistrationAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to every accepted registration, whether or not the email already had an
    account (so that registration cannot tell which emails have one)."""

    message: str


class Me(msgspec.Struct, frozen=True, kw_only=True):
    user: UserOut
    organization: OrganizationOut
