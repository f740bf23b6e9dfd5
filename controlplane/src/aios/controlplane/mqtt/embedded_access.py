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

Password checks run argon2 in a worker thread; a successful check is remembered for
``cache_ttl_s`` (keyed by a digest of the password, never the password) so that a reconnect
storm does not turn into an argon2 storm. :meth:`EmbeddedAccess.forget` drops a device's
entry when it is revoked and refuses its logins for ``revoked_ttl_s`` (the deletion commits
after the broker has cut the device off: a reconnect in between must not slip through).

amqtt 0.12 wires this in through two plugins (:class:`DeviceAuthPlugin`,
:class:`DeviceTopicPlugin`) named by dotted path in the broker config; each receives the one
:class:`EmbeddedAccess` of the broker through its ``Config``. Known amqtt limitation: it lets a
connection take over an existing client id before authenticating it, so a client with wrong
credentials can disconnect the holder of that id (never log in as it or read its messages).
"""

from __future__ import annotations

import hashlib
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
from aios.controlplane.settings import EMBEDDED_SERVICE_USERNAME, Secret
from aios.shared.topics import DEFAULT_PREFIX


class EmbeddedAccess:
    """Authentication and topic decisions of the embedded broker (see the module docstring)."""

    def __init__(
        self,
        lookup: CredentialsLookup,
        *,
        service_password: Secret,
        prefix: str = DEFAULT_PREFIX,
        cache_ttl_s: float = 60.0,
        revoked_ttl_s: float = 600.0,
    ) -> None:
        self.prefix = prefix
        self._auth = EmqxAuth(
            EmqxPolicy(
                prefix=prefix,
                service_username=EMBEDDED_SERVICE_USERNAME,
                service_password=service_password,
            ),
            lookup,
        )
        self._ttl = cache_ttl_s
        self._verified: dict[tuple[str, str], float] = {}  # (username, client id) -> deadline
        self._digests: dict[tuple[str, str], bytes] = {}
        self._revoked_ttl = revoked_ttl_s
        self._revoked: dict[str, float] = {}  # username -> refused until

    async def authenticate(
        self, username: str | None, password: str | None, client_id: str
    ) -> bool:
        if not username or password is None:
            return False
        now = time.monotonic()
        if self._revoked.get(username, 0.0) > now:
            return False
        key = (username, client_id)
        digest = hashlib.sha256(password.encode()).digest()
        if self._verified.get(key, 0.0) > now and self._digests.get(key) == digest:
            return True
        decision = await self._auth.authenticate(username, password, client_id)
        if decision.result is not Verdict.ALLOW:
            return False
        if parse_device_username(username) is not None:
            self._verified[key] = now + self._ttl
            self._digests[key] = digest
        return True

    def forget(self, username: str) -> None:
        """Drop the remembered logins of ``username`` (the device was revoked) and refuse
        its logins for a while (see the module docstring)."""
        for key in [k for k in self._verified if k[0] == username]:
            self._verified.pop(key, None)
            self._digests.pop(key, None)
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


class DeviceAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt is untyped
    """amqtt authentication through :class:`EmbeddedAccess`."""

    @dataclass
    class Config:
        access: EmbeddedAccess | None = None

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        access = getattr(self.config, "access", None)
        if not isinstance(access, EmbeddedAccess):
            raise TypeError("DeviceAuthPlugin needs an EmbeddedAccess as 'access'")
        self._access = access

    async def authenticate(self, *, session: Session) -> bool | None:
        return await self._access.authenticate(
            session.username, session.password, session.client_id or ""
        )


class DeviceTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]  # amqtt is untyped
    """amqtt topic checks (publish, subscribe, receive) through :class:`EmbeddedAccess`."""

    @dataclass
    class Config:
        access: EmbeddedAccess | None = None

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        access = getattr(self.config, "access", None)
        if not isinstance(access, EmbeddedAccess):
            raise TypeError("DeviceTopicPlugin needs an EmbeddedAccess as 'access'")
        self._access = access

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
