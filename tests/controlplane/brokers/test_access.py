"""The access policy shared by every broker: device and service rules, broker-side names."""

from __future__ import annotations

import pytest

from aios.controlplane.brokers.access import (
    Action,
    DeviceIdentity,
    device_may,
    device_username,
    filter_within,
    parse_device_username,
    service_may,
)
from aios.controlplane.errors import InvalidRequestError
from aios.shared.topics import Channel, build_topic, subscription

P = "aios"
A1 = DeviceIdentity("org-a", "dev-1")


def t(org: str, dev: str, channel: Channel) -> str:
    return build_topic(org, dev, channel, prefix=P)


@pytest.mark.parametrize(
    ("action", "topic", "allowed"),
    [
        (Action.PUBLISH, t("org-a", "dev-1", Channel.DETECTIONS), True),
        (Action.PUBLISH, t("org-a", "dev-1", Channel.HEARTBEAT), True),
        (Action.PUBLISH, t("org-a", "dev-1", Channel.STATUS), True),
        (Action.PUBLISH, t("org-a", "dev-1", Channel.EVENTS), True),
        (Action.PUBLISH, t("org-a", "dev-1", Channel.CONFIG_REPORTED), True),
        (Action.PUBLISH, t("org-a", "dev-1", Channel.CONFIG_DESIRED), False),
        (Action.PUBLISH, t("org-a", "dev-2", Channel.DETECTIONS), False),
        (Action.PUBLISH, t("org-b", "dev-1", Channel.DETECTIONS), False),
        (Action.PUBLISH, build_topic("org-a", "dev-1", Channel.DETECTIONS, prefix="x"), False),
        (Action.PUBLISH, "aios/v1/org-a/dev-1/det/extra", False),
        (Action.PUBLISH, "$SYS/broker/clients", False),
        (Action.SUBSCRIBE, t("org-a", "dev-1", Channel.CONFIG_DESIRED), True),
        (Action.SUBSCRIBE, t("org-b", "dev-1", Channel.CONFIG_DESIRED), False),
        (Action.SUBSCRIBE, t("org-a", "dev-2", Channel.CONFIG_DESIRED), False),
        (Action.SUBSCRIBE, t("org-a", "dev-1", Channel.DETECTIONS), False),
        (Action.SUBSCRIBE, t("org-a", "dev-1", Channel.ACK), True),
        (Action.SUBSCRIBE, t("org-a", "dev-2", Channel.ACK), False),
        (Action.SUBSCRIBE, subscription(Channel.ACK, prefix=P, org_id="org-a"), False),
        (Action.PUBLISH, t("org-a", "dev-1", Channel.ACK), False),
        (Action.SUBSCRIBE, subscription(Channel.CONFIG_DESIRED, prefix=P, org_id="org-a"), False),
        (Action.SUBSCRIBE, "aios/v1/org-a/dev-1/#", False),
        (Action.SUBSCRIBE, "#", False),
    ],
)
def test_device_matrix(action: Action, topic: str, allowed: bool) -> None:
    assert device_may(A1, action, topic, prefix=P) is allowed


@pytest.mark.parametrize(
    ("action", "topic", "allowed"),
    [
        (Action.SUBSCRIBE, subscription(Channel.DETECTIONS, prefix=P), True),
        (Action.SUBSCRIBE, subscription(Channel.HEARTBEAT, prefix=P, share_group="ingest"), True),
        (Action.SUBSCRIBE, subscription(Channel.STATUS, prefix=P, org_id="org-a"), True),
        (Action.SUBSCRIBE, t("org-a", "dev-1", Channel.EVENTS), True),
        (Action.SUBSCRIBE, subscription(Channel.DETECTIONS, prefix="other"), False),
        (Action.SUBSCRIBE, "aios/#", False),
        (Action.SUBSCRIBE, "aios/v1/+/+/#", False),
        (Action.SUBSCRIBE, "#", False),
        (Action.SUBSCRIBE, "$share/g", False),
        (Action.SUBSCRIBE, "aios/v1/+/+/+", False),
        (Action.PUBLISH, t("org-a", "dev-1", Channel.CONFIG_DESIRED), True),
        (Action.PUBLISH, t("org-a", "dev-1", Channel.ACK), True),
        (Action.PUBLISH, t("org-a", "dev-1", Channel.DETECTIONS), False),
        (Action.PUBLISH, t("org-a", "dev-1", Channel.STATUS), False),
        (Action.PUBLISH, subscription(Channel.CONFIG_DESIRED, prefix=P), False),
    ],
)
def test_service_matrix(action: Action, topic: str, allowed: bool) -> None:
    assert service_may(action, topic, prefix=P) is allowed


@pytest.mark.parametrize(
    ("flt", "pattern", "within"),
    [
        ("a/+/b", "a/+/b", True),
        ("a/x/b", "a/+/b", True),
        ("a/x/c", "a/+/b", False),
        ("a/#", "a/+/b", False),
        ("a/x", "a/+/b", False),
        ("+/x/b", "a/+/b", False),
    ],
)
def test_filter_within(flt: str, pattern: str, within: bool) -> None:
    assert filter_within(flt, pattern) is within


def test_usernames_round_trip_and_never_collide() -> None:
    assert device_username("org-a", "dev-1") == "dev-1@org-a"
    assert parse_device_username("dev-1@org-a") == A1
    # With "-" or "." as separator these two would share a user name and a role.
    x, y = DeviceIdentity("a-b", "c"), DeviceIdentity("a", "b-c")
    assert x.username != y.username
    assert x.role_name != y.role_name
    assert parse_device_username(x.username) == x


@pytest.mark.parametrize("username", ["admin", "", "@org", "dev@", "a@b@c", "dev/1@org"])
def test_non_device_usernames(username: str) -> None:
    assert parse_device_username(username) is None


@pytest.mark.parametrize(("org", "dev"), [("org/a", "d"), ("o", "+"), ("o", ""), ("#", "d")])
def test_invalid_ids_are_refused(org: str, dev: str) -> None:
    with pytest.raises(InvalidRequestError):
        DeviceIdentity(org, dev)
