"""Mosquitto's dynamic security plugin, driven over MQTT by an admin client.

The plugin listens on ``$CONTROL/dynamic-security/v1`` for ``{"commands": [...]}`` and answers
``{"responses": [...]}`` on ``$CONTROL/dynamic-security/v1/response``; each command carries a
``correlationData`` that its response echoes, which is how :class:`DynsecClient` pairs them.
The admin user is the one ``mosquitto_ctrl dynsec init <file> <user> <password>`` creates.

The session is an :class:`~aios.controlplane.mqtt.client.MqttSession` (the control plane's one
MQTT client boundary), asked to raise
:class:`~aios.controlplane.brokers.provisioning.BrokerAdminError` for connection failures,
refusals and timeouts; the plugin's own errors are raised here. The async provisioner runs each
(short) admin session in a worker thread so the event loop never blocks.

Every provisioning batch also sets the broker's default ACL access to deny for sending,
receiving and subscribing (unsubscribing stays allowed), so a client without an explicit ACL
can do nothing even if nobody configured the defaults by hand.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from aios.controlplane.brokers.access import (
    DeviceIdentity,
    device_publish_topics,
    device_receive_topics,
    service_publish_patterns,
    service_receive_patterns,
    service_role_name,
    service_subscribe_filters,
)
from aios.controlplane.brokers.provisioning import BrokerAdminError
from aios.controlplane.mqtt.client import Broker, MqttSession, Received, Subscription
from aios.controlplane.settings import Secret
from aios.shared.topics import DEFAULT_PREFIX

log = logging.getLogger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
_NOT_ADMIN = (
    "admin user may not read dynamic-security responses (is the plugin loaded and the user "
    "its admin?)"
)

# Errors that mean "already in the state we want", per command.
_BENIGN = {
    "createRole": "Role already exists",
    "createClient": "Client already exists",
    "deleteRole": "Role not found",
    "deleteClient": "Client not found",
}

JsonScalar = str | int | bool | None
JsonValue = JsonScalar | list["JsonValue"] | dict[str, "JsonValue"]
Command = dict[str, JsonValue]


class Acl(msgspec.Struct, frozen=True, kw_only=True):
    """One ACL entry of a role (``acltype`` is e.g. ``publishClientSend``)."""

    acltype: str
    topic: str
    allow: bool = True
    priority: int = 0


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """One command's response; ``error`` is absent on success."""

    command: str
    error: str | None = None
    correlationData: str | None = None  # noqa: N815 - the plugin's field name
    data: dict[str, msgspec.Raw] | None = None


class _Replies(msgspec.Struct, frozen=True):
    responses: list[Reply]


@dataclass(frozen=True, slots=True)
class DynsecEndpoint:
    """Where the admin client connects, as whom, and how long it waits for an answer."""

    host: str
    port: int
    username: str
    password: Secret
    tls: ssl.SSLContext | None = None
    timeout_s: float = 5.0


def _acls(acltype: str, topics: Sequence[str]) -> list[JsonValue]:
    return [msgspec.to_builtins(Acl(acltype=acltype, topic=t)) for t in topics]


def device_acls(device: DeviceIdentity, prefix: str = DEFAULT_PREFIX) -> list[JsonValue]:
    """The ACLs of a device's role: send its own telemetry, receive its own desired config and
    acknowledgements."""
    own = device_receive_topics(device, prefix)
    return [
        *_acls("publishClientSend", device_publish_topics(device, prefix)),
        *_acls("subscribeLiteral", own),
        *_acls("publishClientReceive", own),
    ]


def service_acls(prefix: str = DEFAULT_PREFIX, share_group: str | None = None) -> list[JsonValue]:
    """The ACLs of the service role: read every device channel, write desired configs and
    acknowledgements."""
    return [
        *_acls("subscribePattern", service_subscribe_filters(prefix, share_group)),
        *_acls("publishClientReceive", service_receive_patterns(prefix)),
        *_acls("publishClientSend", service_publish_patterns(prefix)),
    ]


DENY_BY_DEFAULT: Command = {
    "command": "setDefaultACLAccess",
    "acls": [
        {"acltype": "publishClientSend", "allow": False},
        {"acltype": "publishClientReceive", "allow": False},
        {"acltype": "subscribe", "allow": False},
        {"acltype": "unsubscribe", "allow": True},
    ],
}


def upsert_commands(
    *, rolename: str, acls: list[JsonValue], username: str, password: str, clientid: str | None
) -> list[Command]:
    """Create-or-update a role with exactly ``acls`` and a client holding only that role."""
    client: Command = {
        "username": username,
        "password": password,
        "roles": [{"rolename": rolename}],
    }
    if clientid is not None:
        client["clientid"] = clientid
    return [
        DENY_BY_DEFAULT,
        {"command": "createRole", "rolename": rolename, "acls": acls},
        {"command": "modifyRole", "rolename": rolename, "acls": acls},
        {"command": "createClient", **client},
        {"command": "modifyClient", **client},
    ]


def delete_commands(*, rolename: str, username: str) -> list[Command]:
    """Delete a client (the plugin disconnects it) and its role."""
    return [
        {"command": "deleteClient", "username": username},
        {"command": "deleteRole", "rolename": rolename},
    ]


class DynsecClient(MqttSession):
    """One admin session (a context manager): connect, send command batches, disconnect."""

    def __init__(self, endpoint: DynsecEndpoint) -> None:
        self.endpoint = endpoint
        self._replies_ready = threading.Condition()
        self._replies: dict[str, Reply] = {}
        ep = endpoint
        super().__init__(
            Broker(ep.host, ep.port, "3.1.1", ep.username, ep.password, ep.tls),
            client_id=f"aios-dynsec-{uuid.uuid4().hex[:12]}",
            timeout_s=endpoint.timeout_s,
            on_message=self._on_reply,
            subscriptions=[Subscription(RESPONSE_TOPIC, _NOT_ADMIN)],
            error=BrokerAdminError,
        )

    def _on_reply(self, msg: Received) -> None:  # paho's network thread
        try:
            replies = msgspec.json.decode(msg.payload, type=_Replies).responses
        except msgspec.DecodeError:  # ValidationError is a subclass
            log.warning("dynamic security: unreadable response ignored")
            return
        with self._replies_ready:
            for reply in replies:
                if reply.correlationData is not None:
                    self._replies[reply.correlationData] = reply
            self._replies_ready.notify_all()

    def execute(self, commands: Sequence[Command]) -> list[Reply]:
        """Send ``commands`` as one batch; their replies in order. Raises on a non-benign
        error or when the plugin does not answer within the timeout."""
        ids = [uuid.uuid4().hex for _ in commands]
        batch = [{**cmd, "correlationData": cid} for cmd, cid in zip(commands, ids, strict=True)]
        self.publish(CONTROL_TOPIC, msgspec.json.encode({"commands": batch}))
        with self._replies_ready:
            done = self._replies_ready.wait_for(
                lambda: all(i in self._replies for i in ids), self.endpoint.timeout_s
            )
            replies = [self._replies.pop(i) for i in ids if i in self._replies]
        if not done:
            raise BrokerAdminError(
                "the dynamic security plugin did not answer (is it loaded on this broker?)"
            )
        for reply in replies:
            if reply.error is not None and _BENIGN.get(reply.command) != reply.error:
                raise BrokerAdminError(f"dynamic security {reply.command}: {reply.error}")
        return replies


class MosquittoDynsecProvisioner:
    """:class:`~aios.controlplane.brokers.provisioning.DeviceCredentialsProvisioner` for
    Mosquitto 2 with the dynamic security plugin."""

    def __init__(self, endpoint: DynsecEndpoint) -> None:
        self.endpoint = endpoint

    def _run(self, commands: list[Command]) -> None:
        with DynsecClient(self.endpoint) as admin:
            admin.execute(commands)

    async def provision_device(
        self,
        org_id: str,
        device_id: str,
        password: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        client_id: str | None = None,
    ) -> None:
        device = DeviceIdentity(org_id, device_id)
        commands = upsert_commands(
            rolename=device.role_name,
            acls=device_acls(device, prefix),
            username=device.username,
            password=password,
            clientid=client_id,
        )
        await asyncio.to_thread(self._run, commands)
        log.info("dynsec: provisioned device %s/%s", org_id, device_id)

    async def revoke_device(self, org_id: str, device_id: str) -> None:
        device = DeviceIdentity(org_id, device_id)
        commands = delete_commands(rolename=device.role_name, username=device.username)
        await asyncio.to_thread(self._run, commands)
        log.info("dynsec: revoked device %s/%s", org_id, device_id)

    async def provision_service(
        self,
        username: str,
        password: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        share_group: str | None = None,
        client_id: str | None = None,
    ) -> None:
        """The control plane's own MQTT user: reads every device channel under ``prefix``
        (plain subscriptions, and MQTT 5 shared ones in ``share_group``: pass
        ``settings.mqtt_share_group``), publishes ``cfg/desired``."""
        commands = upsert_commands(
            rolename=service_role_name(username),
            acls=service_acls(prefix, share_group),
            username=username,
            password=password,
            clientid=client_id,
        )
        await asyncio.to_thread(self._run, commands)
        log.info("dynsec: provisioned service user %s", username)

    async def revoke_service(self, username: str) -> None:
        commands = delete_commands(rolename=service_role_name(username), username=username)
        await asyncio.to_thread(self._run, commands)
