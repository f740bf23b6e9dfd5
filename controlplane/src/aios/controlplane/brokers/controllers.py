"""``POST /api/v1/brokers/emqx/authn`` and ``/authz``: the HTTP hook EMQX 5 calls.

Request bodies are what ``docs/brokers.md`` tells EMQX to send (its ``${username}``,
``${password}``, ``${clientid}``, ``${topic}``, ``${action}`` placeholders); answers are EMQX's
``{"result": "allow"|"deny"|"ignore", "is_superuser": false}`` with status 200. The caller must
present the shared secret in the :data:`HOOK_SECRET_HEADER` header, else 401 (EMQX then treats
the request as failed: ``ignore``, and ``no_match = deny`` refuses).

The endpoints bypass user (JWT) authentication; they need two dependencies from the
composition root: ``emqx_policy`` (:class:`~aios.controlplane.brokers.emqx.EmqxPolicy`, see
:func:`emqx_dependencies`) and ``broker_credentials`` (a
:class:`~aios.controlplane.brokers.emqx.CredentialsLookup`, from the fleet domain).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from aios.controlplane.brokers.emqx import CredentialsLookup, EmqxAuth, EmqxPolicy, Verdict
from aios.controlplane.errors import AuthenticationError, RateLimitedError
from aios.controlplane.fleet.device_logins import DeviceLoginGuard

HOOK_SECRET_HEADER = "x-aios-broker-secret"


class EmqxAuthnRequest(msgspec.Struct, frozen=True, kw_only=True):
    """``{"username": "${username}", "password": "${password}", "clientid": "${clientid}",
    "peerhost": "${peerhost}"}`` (``peerhost``, the client's address, lets failed logins be
    throttled per address; without it they are throttled per device only)."""

    username: str = ""
    password: str = ""
    clientid: str | None = None
    peerhost: str | None = None


class EmqxAuthzRequest(msgspec.Struct, frozen=True, kw_only=True):
    """``{"username": "${username}", "topic": "${topic}", "action": "${action}"}``."""

    username: str = ""
    topic: str
    action: str
    clientid: str | None = None


class EmqxAuthnResponse(msgspec.Struct, frozen=True, kw_only=True):
    result: Verdict
    is_superuser: bool = False


class EmqxAuthzResponse(msgspec.Struct, frozen=True, kw_only=True):
    result: Verdict


def _checked(request: Request[Any, Any, Any], policy: EmqxPolicy) -> None:
    if not policy.secret_matches(request.headers.get(HOOK_SECRET_HEADER)):
        raise AuthenticationError("missing or wrong broker hook secret")


class EmqxHookController(Controller):
    path = "/api/v1/brokers/emqx"
    tags = ["brokers"]

    @post(
        "/authn",
        exclude_from_auth=True,
        status_code=HTTP_200_OK,
        summary="EMQX HTTP authentication of an MQTT client",
    )
    async def authn(
        self,
        data: JSONBody[EmqxAuthnRequest],
        request: Request[Any, Any, Any],
        emqx_policy: NamedDependency[EmqxPolicy],
        broker_credentials: NamedDependency[CredentialsLookup],
        device_logins: NamedDependency[DeviceLoginGuard],
    ) -> EmqxAuthnResponse:
        _checked(request, emqx_policy)
        address = data.peerhost or f"emqx:{data.username}"

        async def verify(password_hash: str | None, password: str) -> bool:
            return await device_logins.verify(
                data.username, password_hash, password, address=address
            )

        auth = EmqxAuth(emqx_policy, broker_credentials, verify=verify)
        try:
            decision = await auth.authenticate(data.username, data.password, data.clientid)
        except RateLimitedError:  # throttled: refused without an argon2 check
            return EmqxAuthnResponse(result=Verdict.DENY)
        return EmqxAuthnResponse(result=decision.result, is_superuser=decision.is_superuser)

    @post(
        "/authz",
        exclude_from_auth=True,
        status_code=HTTP_200_OK,
        summary="EMQX HTTP authorization of a publish or subscribe",
    )
    async def authz(
        self,
        data: JSONBody[EmqxAuthzRequest],
        request: Request[Any, Any, Any],
        emqx_policy: NamedDependency[EmqxPolicy],
        broker_credentials: NamedDependency[CredentialsLookup],
    ) -> EmqxAuthzResponse:
        _checked(request, emqx_policy)
        auth = EmqxAuth(emqx_policy, broker_credentials)
        return EmqxAuthzResponse(
            result=await auth.authorize(data.username, data.topic, data.action)
        )


def emqx_dependencies(policy: EmqxPolicy) -> dict[str, Provide]:
    """The ``emqx_policy`` dependency (``broker_credentials`` comes from the fleet domain)."""
    return {"emqx_policy": Provide(lambda: policy, sync_to_thread=False)}


ROUTES = [EmqxHookController]
