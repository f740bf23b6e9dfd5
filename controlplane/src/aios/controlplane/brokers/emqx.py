"""EMQX's HTTP authentication and authorization, as pure decisions over a credentials lookup.

EMQX 5 calls the control plane (:mod:`~aios.controlplane.brokers.controllers`) when a client
connects (authn) and when it publishes or subscribes (authz). The decisions are made here, from
:mod:`~aios.controlplane.brokers.access` and a :class:`CredentialsLookup` that the fleet domain
supplies (it owns the device credentials table):

* **authn**: the service user (the control plane's own ``AIOS_MQTT_USERNAME``) is checked
  against its configured password; a device user name (``{device_id}@{org_id}``) against the
  stored password hash (and the bound client id, if any); any other user name answers
  ``ignore`` so that another authenticator in EMQX's chain may decide (if none does, EMQX
  refuses the client). Nobody is ``is_superuser``: the service is authorized like anyone else.
* **authz**: a device gets ``allow`` only for its own topics and ``deny`` for everything else,
  and ``deny`` once its credentials are gone (revoked); the service gets the service rules;
  other user names ``ignore`` (configure EMQX's ``authorization.no_match = deny``).
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import msgspec

from aios.controlplane.accounts.passwords import verify_password
from aios.controlplane.brokers.access import (
    Action,
    DeviceIdentity,
    device_may,
    parse_device_username,
    service_may,
)
from aios.controlplane.settings import Secret
from aios.shared.topics import DEFAULT_PREFIX

PasswordVerifier = Callable[[str | None, str], Awaitable[bool]]


class Verdict(str, enum.Enum):
    """EMQX's ``result`` values."""

    ALLOW = "allow"
    DENY = "deny"
    IGNORE = "ignore"


class BrokerCredential(msgspec.Struct, frozen=True, kw_only=True):
    """What the fleet domain stores for a device's MQTT login.

    ``password_hash`` is checked by the :data:`PasswordVerifier` (argon2id by default, as
    :mod:`aios.controlplane.accounts.passwords` hashes); ``client_id``, when set, is the only
    MQTT client id the device may connect with; a disabled (revoked) device is refused.
    """

    org_id: str
    device_id: str
    password_hash: str | None
    client_id: str | None = None
    enabled: bool = True


@runtime_checkable  # Litestar checks injected dependencies against the annotation
class CredentialsLookup(Protocol):
    """The device's stored credentials, or ``None`` when there is no such device."""

    async def __call__(self, device: DeviceIdentity, /) -> BrokerCredential | None: ...


@dataclass(frozen=True, slots=True)
class EmqxPolicy:
    """The settings of the hook: topic prefix, the service user, the shared secret.

    With no ``hook_secret`` every call is refused (fail closed). With no ``service_username``
    no service user exists (devices only).
    """

    prefix: str = DEFAULT_PREFIX
    service_username: str | None = None
    service_password: Secret | None = None
    hook_secret: Secret | None = None

    def secret_matches(self, presented: str | None) -> bool:
        """Whether the hook secret presented by the caller is the configured one."""
        if self.hook_secret is None or not self.hook_secret.get() or presented is None:
            return False
        return secrets.compare_digest(presented.encode(), self.hook_secret.get().encode())

    def is_service(self, username: str) -> bool:
        return self.service_username is not None and secrets.compare_digest(
            username.encode(), self.service_username.encode()
        )


@dataclass(frozen=True, slots=True)
class AuthnDecision:
    result: Verdict
    is_superuser: bool = False


class EmqxAuth:
    """The decisions for one request (the lookup is usually request-scoped: a DB session)."""

    def __init__(
        self,
        policy: EmqxPolicy,
        lookup: CredentialsLookup,
        *,
        verify: PasswordVerifier = verify_password,
    ) -> None:
        self.policy = policy
        self._lookup = lookup
        self._verify = verify

    async def _credential(self, device: DeviceIdentity) -> BrokerCredential | None:
        cred = await self._lookup(device)
        if (
            cred is None
            or not cred.enabled
            or (cred.org_id, cred.device_id) != (device.org_id, device.device_id)
        ):
            return None
        return cred

    async def authenticate(
        self, username: str, password: str, client_id: str | None = None
    ) -> AuthnDecision:
        if self.policy.is_service(username):
            expected = self.policy.service_password
            ok = expected is not None and secrets.compare_digest(
                password.encode(), expected.get().encode()
            )
            return AuthnDecision(Verdict.ALLOW if ok else Verdict.DENY)
        device = parse_device_username(username)
        if device is None:
            return AuthnDecision(Verdict.IGNORE)
        cred = await self._credential(device)
        # Verify even without a credential (a dummy hash) so that timing does not tell.
        if not await self._verify(cred.password_hash if cred else None, password) or cred is None:
            return AuthnDecision(Verdict.DENY)
        if cred.client_id is not None and cred.client_id != client_id:
            return AuthnDecision(Verdict.DENY)
        return AuthnDecision(Verdict.ALLOW)

    async def authorize(self, username: str, topic: str, action: str) -> Verdict:
        try:
            act = Action(action)
        except ValueError:
            return Verdict.DENY
        prefix = self.policy.prefix
        if self.policy.is_service(username):
            return Verdict.ALLOW if service_may(act, topic, prefix=prefix) else Verdict.DENY
        device = parse_device_username(username)
        if device is None:
            return Verdict.IGNORE
        if await self._credential(device) is None:
            return Verdict.DENY
        return Verdict.ALLOW if device_may(device, act, topic, prefix=prefix) else Verdict.DENY
