"""Device isolation on a real Mosquitto with the dynamic security plugin.

Each test runs its own broker (see ``conftest.py``), provisions the ingest service, two devices
of organization A and one of organization B through :class:`MosquittoDynsecProvisioner`, and
checks what the broker actually lets through. Under MQTT 3.1.1 a denied publish is dropped
silently (the publisher still gets its PUBACK), so denial is checked on the subscriber side: a
sentinel published after the denied message proves the denied one would have arrived by then.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from dataclasses import dataclass

import pytest

from aios.controlplane.brokers.access import device_username
from aios.controlplane.brokers.dynsec import DynsecEndpoint, MosquittoDynsecProvisioner
from aios.controlplane.brokers.provisioning import BrokerAdminError
from aios.controlplane.settings import Secret
from aios.shared.topics import Channel, build_topic, subscription
from tests.controlplane.brokers.conftest import PrivateBroker
from tests.controlplane.brokers.probe import Probe

pytestmark = pytest.mark.mqtt

ORG_A, ORG_B = "org-a", "org-b"
SERVICE_USER = "aios-ingest"
SHARE_GROUP = "aios-ingest"


@dataclass(frozen=True, slots=True)
class Device:
    org_id: str
    device_id: str
    password: str

    @property
    def username(self) -> str:
        return device_username(self.org_id, self.device_id)

    @property
    def client_id(self) -> str:
        return f"aios-{self.org_id}-{self.device_id}"

    def topic(self, channel: Channel, prefix: str) -> str:
        return build_topic(self.org_id, self.device_id, channel, prefix=prefix)


@dataclass(frozen=True, slots=True)
class Fleet:
    broker: PrivateBroker
    provisioner: MosquittoDynsecProvisioner
    prefix: str
    service_password: str
    a1: Device
    a2: Device
    b1: Device

    def device(
        self, d: Device, *, password: str | None = None, client_id: str | None = None
    ) -> Probe:
        return Probe(
            self.broker.port,
            d.username,
            password if password is not None else d.password,
            client_id=client_id or d.client_id,
        )

    def service(self) -> Probe:
        """The ingest as it really subscribes: MQTT 5 with shared subscriptions."""
        probe = Probe(self.broker.port, SERVICE_USER, self.service_password, mqtt5=True)
        assert probe.connect(), "the service user must be able to connect"
        for channel in (Channel.DETECTIONS, Channel.STATUS, Channel.EVENTS):
            flt = subscription(channel, prefix=self.prefix, share_group=SHARE_GROUP)
            assert probe.subscribe(flt), f"the service must be allowed to subscribe {flt}"
        return probe


def _secret() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def fleet(dynsec_broker: PrivateBroker, topic_prefix: str) -> Fleet:
    provisioner = MosquittoDynsecProvisioner(dynsec_broker.admin)
    a1, a2 = Device(ORG_A, "dev-1", _secret()), Device(ORG_A, "dev-2", _secret())
    b1 = Device(ORG_B, "dev-1", _secret())  # same device id, other organization
    service_password = _secret()

    async def provision() -> None:
        await provisioner.provision_service(
            SERVICE_USER, service_password, prefix=topic_prefix, share_group=SHARE_GROUP
        )
        for d in (a1, a2, b1):
            await provisioner.provision_device(
                d.org_id, d.device_id, d.password, prefix=topic_prefix, client_id=d.client_id
            )

    asyncio.run(provision())
    return Fleet(dynsec_broker, provisioner, topic_prefix, service_password, a1, a2, b1)


def test_device_publishes_only_on_its_own_topics(fleet: Fleet) -> None:
    p, a1, a2, b1 = fleet.prefix, fleet.a1, fleet.a2, fleet.b1
    with fleet.service() as ingest, fleet.device(a1) as device:
        assert device.connect()
        device.publish(a1.topic(Channel.DETECTIONS, p), b"a1-own-det")
        # (a) the positive path: the service receives the device's own detections.
        assert ingest.receive_until(b"a1-own-det") == [
            (a1.topic(Channel.DETECTIONS, p), b"a1-own-det")
        ]
        # (b) posing as a sibling device, as another organization's device (same device id),
        # or as the device's own status on another org: all dropped by the broker.
        device.publish(a2.topic(Channel.DETECTIONS, p), b"forged-a2-det")
        device.publish(b1.topic(Channel.DETECTIONS, p), b"forged-b1-det")
        device.publish(b1.topic(Channel.STATUS, p), b"forged-b1-status")
        device.publish(a2.topic(Channel.EVENTS, p), b"forged-a2-evt")
        device.publish(a1.topic(Channel.EVENTS, p), b"sentinel")
        assert ingest.receive_until(b"sentinel") == [(a1.topic(Channel.EVENTS, p), b"sentinel")]


def test_device_cannot_write_desired_config(fleet: Fleet) -> None:
    p, a1 = fleet.prefix, fleet.a1
    with fleet.device(a1) as forger, fleet.device(fleet.a2) as a2:
        assert forger.connect()
        assert a2.connect()
        assert a2.subscribe(fleet.a2.topic(Channel.CONFIG_DESIRED, p))
        # A device may not push a desired config to a sibling (nor to itself).
        forger.publish(fleet.a2.topic(Channel.CONFIG_DESIRED, p), b"forged-config")
        forger.publish(a1.topic(Channel.CONFIG_DESIRED, p), b"forged-own-config")
        with fleet.service() as control:  # the positive path: the service may
            control.publish(fleet.a2.topic(Channel.CONFIG_DESIRED, p), b"real-config")
        assert a2.receive_until(b"real-config") == [
            (fleet.a2.topic(Channel.CONFIG_DESIRED, p), b"real-config")
        ]


def test_device_reads_only_its_own_desired_config(fleet: Fleet) -> None:
    p, a1, b1 = fleet.prefix, fleet.a1, fleet.b1
    with fleet.service() as control:
        control.publish(a1.topic(Channel.CONFIG_DESIRED, p), b"config-a1", retain=True)
        control.publish(b1.topic(Channel.CONFIG_DESIRED, p), b"config-b1", retain=True)
    with fleet.device(a1) as device:
        assert device.connect()
        # (c) another organization's config: the subscription is refused...
        assert not device.subscribe(b1.topic(Channel.CONFIG_DESIRED, p))
        # ... and so is any wildcard that would cover it.
        assert not device.subscribe(subscription(Channel.CONFIG_DESIRED, prefix=p))
        assert not device.subscribe("#")
        # (d) its own retained config arrives, and it is the only message received.
        assert device.subscribe(a1.topic(Channel.CONFIG_DESIRED, p))
        assert device.receive_one() == (a1.topic(Channel.CONFIG_DESIRED, p), b"config-a1")
        assert device.receive_one(timeout=1.0) is None
    with fleet.device(b1) as owner:  # the refused config is there, for its owner only
        assert owner.connect()
        assert owner.subscribe(b1.topic(Channel.CONFIG_DESIRED, p))
        assert owner.receive_one() == (b1.topic(Channel.CONFIG_DESIRED, p), b"config-b1")


def test_device_reads_only_its_own_acknowledgements(fleet: Fleet) -> None:
    p, a1, a2 = fleet.prefix, fleet.a1, fleet.a2
    with fleet.device(a1) as device, fleet.device(a2) as sibling:
        assert device.connect()
        assert sibling.connect()
        assert not device.subscribe(a2.topic(Channel.ACK, p))
        assert not device.subscribe(subscription(Channel.ACK, prefix=p))
        assert device.subscribe(a1.topic(Channel.ACK, p))
        assert sibling.subscribe(a2.topic(Channel.ACK, p))
        sibling.publish(a1.topic(Channel.ACK, p), b"forged-ack")  # a device may not
        with fleet.service() as control:
            control.publish(a1.topic(Channel.ACK, p), b"ack-a1")
        assert device.receive_until(b"ack-a1") == [(a1.topic(Channel.ACK, p), b"ack-a1")]


def test_bad_credentials_are_refused(fleet: Fleet) -> None:
    a1 = fleet.a1
    with fleet.device(a1) as good:
        assert good.connect()  # the positive path, so the refusals below mean something
    # (e) a wrong password, another device's password, an unknown user.
    with fleet.device(a1, password="wrong") as bad:
        assert not bad.connect()
    with fleet.device(a1, password=fleet.a2.password) as bad:
        assert not bad.connect()
    with Probe(fleet.broker.port, device_username(ORG_A, "nobody"), "x") as unknown:
        assert not unknown.connect()
    # The device's identity is bound to its client id: it cannot take over another session.
    with fleet.device(a1, client_id=fleet.b1.client_id) as hijack:
        assert not hijack.connect()


def test_revoked_device_is_disconnected_and_locked_out(fleet: Fleet) -> None:
    a1, a2 = fleet.a1, fleet.a2
    with fleet.device(a1) as device:
        assert device.connect()
        assert not device.disconnected.is_set()
        asyncio.run(fleet.provisioner.revoke_device(a1.org_id, a1.device_id))
        # (f) the live session is cut...
        assert device.disconnected.wait(5), "a revoked device must be disconnected"
    with fleet.device(a1) as again:  # ... and it cannot come back
        assert not again.connect()
    with fleet.device(a2) as sibling:  # its sibling is untouched
        assert sibling.connect()
    # Revoking again (a device the broker no longer knows) is fine.
    asyncio.run(fleet.provisioner.revoke_device(a1.org_id, a1.device_id))


def test_provisioning_twice_converges_and_rotates_the_password(fleet: Fleet) -> None:
    a1, p = fleet.a1, fleet.prefix
    new_password = _secret()
    asyncio.run(
        fleet.provisioner.provision_device(
            a1.org_id, a1.device_id, new_password, prefix=p, client_id=a1.client_id
        )
    )
    with fleet.device(a1) as old:
        assert not old.connect()
    with fleet.service() as ingest, fleet.device(a1, password=new_password) as device:
        assert device.connect()
        device.publish(a1.topic(Channel.DETECTIONS, p), b"after-rotation")
        assert ingest.receive_until(b"after-rotation") == [
            (a1.topic(Channel.DETECTIONS, p), b"after-rotation")
        ]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_admin_errors_are_translated(dynsec_broker: PrivateBroker) -> None:
    wrong = DynsecEndpoint(
        host=dynsec_broker.host,
        port=dynsec_broker.port,
        username=dynsec_broker.admin.username,
        password=Secret("wrong"),
        timeout_s=2.0,
    )
    with pytest.raises(BrokerAdminError, match="refused"):
        asyncio.run(MosquittoDynsecProvisioner(wrong).provision_device(ORG_A, "d", "pw"))
    closed = DynsecEndpoint(
        host="127.0.0.1", port=_closed_port(), username="admin", password=Secret("x"), timeout_s=2.0
    )
    with pytest.raises(BrokerAdminError, match="cannot reach"):
        asyncio.run(MosquittoDynsecProvisioner(closed).revoke_device(ORG_A, "d"))
