"""Who may connect to the embedded broker and which topics they may use.

The rules are those of every broker (:mod:`aios.controlplane.brokers.access`), and the login
check is the EMQX hook's (:class:`~aios.controlplane.brokers.emqx.EmqxAuth`) over the device
credentials table:

* a **device** logs in with its enrollment credentials (user ``{device_id}@{org_id}``, client
  id :func:`aios.shared.topics.device_client_id`), publishes only its own ``status``, ``hb``,
  ``det``, ``evt`` and ``cfg/reported`` and subscribes to (and receives) only its own
  ``cfg/desired``;
* the **control plane** itself (ingest, config publisher) logs in as
  :data:`~aios.controlplane.settings.EMBEDDED_SERVICE_USERNAME` with a password generated per
  run, and gets the service rules;
* everyone else is refused.

Device passwords go through the process's
:class:`~aios.controlplane.fleet.device_logins.DeviceLoginGuard` (shared with the HTTP snapshot
uploads): a successful check is remembered, so that a reconnect storm does not turn into an
argon2 storm, and failed checks are throttled per client address and per device (a throttled
login is refused without running argon2). :meth:`EmbeddedAccess.forget` drops a device's
remembered login when it is revoked and refuses its logins for ``revoked_ttl_s`` (the deletion
commits after the broker has cut the device off: a reconnect in between must not slip
through).

amqtt 0.12 wires this in through two plugins (:class:`DeviceAuthPlugin`,
:class:`DeviceTopicPlugin`) named by dotted path in the broker config; each receives the one
:class:`EmbeddedAccess` of the broker through its ``Config``. Known amqtt limitation: it lets a
connection take over an existing client id before authenticating it, so a client with wrong
credentials can disconnect the holder of that id (never log in as it or read its messages).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from amqtt.contexts import Action as AmqttAction
from amqtt.contexts import BaseContext
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from aios.controlplane.brokers.access import (
    Action,
    device_may,
    parse_device_username,
    service_may,
)
from aios.controlplane.brokers.emqx import CredentialsLookup, EmqxAuth, EmqxPolicy, Verdict
from aios.controlplane.errors import RateLimitedError
from aios.controlplane.fleet.device_logins import DeviceLoginGuard
from aios.controlplane.settings import EMBEDDED_SERVICE_USERNAME, Secret
from aios.shared.topics import DEFAULT_PREFIX


class EmbeddedAccess:
    """Authentication and topic decisions of the embedded broker (see the module docstring)."""

    def __init__(
        self,
        lookup: CredentialsLookup,
        guard: DeviceLoginGuard,
        *,
        service_password: Secret,
        prefix: str = DEFAULT_PREFIX,
        revoked_ttl_s: float = 600.0,
    ) -> None:
        self.prefix = prefix
        self._policy = EmqxPolicy(
            prefix=prefix,
            service_username=EMBEDDED_SERVICE_USERNAME,
            service_password=service_password,
        )
        self._lookup = lookup
        self._guard = guard
        self._revoked_ttl = revoked_ttl_s
        self._revoked: dict[str, float] = {}  # username -> refused until

    async def authenticate(
        self, username: str | None, password: str | None, client_id: str, address: str = ""
    ) -> bool:
        if not username or password is None:
            return False
        if self._revoked.get(username, 0.0) > time.monotonic():
            return False

        async def verify(password_hash: str | None, presented: str) -> bool:
            return await self._guard.verify(username, password_hash, presented, address=address)

        auth = EmqxAuth(self._policy, self._lookup, verify=verify)
        try:
            decision = await auth.authenticate(username, password, client_id)
        except RateLimitedError:
            return False
        return decision.result is Verdict.ALLOW

    def forget(self, username: str) -> None:
        """Drop the remembered login of ``username`` (the device was revoked) and refuse its
        logins for a while (see the module docstring)."""
        self._guard.forget(username)
        now = time.monotonic()
        for name in [n for n, until in self._revoked.items() if until <= now]:
            del self._revoked[name]
        self._revoked[username] = now + self._revoked_ttl

    def permits(self, username: str | None, action: AmqttAction, topic: str) -> bool:
        """Whether an authenticated ``username`` may do ``action`` with ``topic``."""
        # receiving is allowed exactly where subscribing is (an exact topic here)
        act = Action.PUBLISH if action is AmqttAction.PUBLISH else Action.SUBSCRIBE
        if not username:
            return False
        if username == EMBEDDED_SERVICE_USERNAME:
            return service_may(act, topic, prefix=self.prefix)
        device = parse_device_username(username)
        return device is not None and device_may(device, act, topic, prefix=self.prefix)


@dataclass
class AccessConfig:
    """The configuration of both plugins: the :class:`EmbeddedAccess` they ask."""

    access: EmbeddedAccess | None = None


def _configured_access(plugin: object) -> EmbeddedAccess:
    access = getattr(getattr(plugin, "config", None), "access", None)
    if not isinstance(access, EmbeddedAccess):
        raise TypeError(f"{type(plugin).__name__} needs an EmbeddedAccess as 'access'")
    return access


class DeviceAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt is untyped
    """amqtt authentication through :class:`EmbeddedAccess`."""

    Config = AccessConfig

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self._access = _configured_access(self)

    async def authenticate(self, *, session: Session) -> bool | None:
        return await self._access.authenticate(
            session.username,
            session.password,
            session.client_id or "",
            session.remote_address or "",
        )


class DeviceTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]  # amqtt is untyped
    """amqtt topic checks (publish, subscribe, receive) through :class:`EmbeddedAccess`."""

    Config = AccessConfig

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self._access = _configured_access(self)

    async def topic_filtering(
        self,
        *,
        session: Session | None = None,
        topic: str | None = None,
        action: AmqttAction | None = None,
    ) -> bool | None:
        if session is None or topic is None or action is None:
            return False
        return self._access.permits(session.username, action, topic)
