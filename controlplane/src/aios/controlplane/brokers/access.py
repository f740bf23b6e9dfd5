"""Who may use which topic: the one access policy behind every broker integration.

Mosquitto's dynamic security roles (:mod:`~aios.controlplane.brokers.dynsec`) and EMQX's HTTP
authorization (:mod:`~aios.controlplane.brokers.emqx`) both derive from this module, so the
rules are written once:

* a **device** publishes only on its own ``status``, ``hb``, ``det``, ``evt`` and
  ``cfg/reported`` topics and subscribes to (and receives) only its own ``cfg/desired`` and
  ``ack``;
* the **service** (the control plane's ingest) subscribes to every channel of every device
  under its prefix (plain or MQTT 5 shared subscriptions) and publishes only ``cfg/desired``
  and ``ack``;
* everything else is denied.

Broker-side names are built here too. They use a separator that cannot occur in an
organization or device id (ids are ``[A-Za-z0-9_.-]``, see :mod:`aios.shared.topics`), so two
different devices can never map to the same user or role name (``org "a-b", device "c"`` and
``org "a", device "b-c"`` would collide with ``-``):

* MQTT user name of a device: ``{device_id}@{org_id}``;
* Mosquitto role of a device: ``aios-device/{org_id}/{device_id}``;
* Mosquitto role of a service user: ``aios-service/{username}``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from aios.controlplane.errors import InvalidRequestError
from aios.shared.errors import TopicError
from aios.shared.topics import (
    DEFAULT_PREFIX,
    Channel,
    build_topic,
    is_identifier,
    parse_topic,
    subscription,
)

USERNAME_SEPARATOR = "@"
SHARE_PREFIX = "$share/"

DEVICE_PUBLISH_CHANNELS: tuple[Channel, ...] = (
    Channel.STATUS,
    Channel.HEARTBEAT,
    Channel.DETECTIONS,
    Channel.EVENTS,
    Channel.CONFIG_REPORTED,
)
DEVICE_RECEIVE_CHANNELS: tuple[Channel, ...] = (Channel.CONFIG_DESIRED, Channel.ACK)
SERVICE_PUBLISH_CHANNELS: tuple[Channel, ...] = (Channel.CONFIG_DESIRED, Channel.ACK)
SERVICE_RECEIVE_CHANNELS: tuple[Channel, ...] = tuple(Channel)


class Action(str, enum.Enum):
    """What a client asks to do with a topic (EMQX's ``${action}`` values)."""

    PUBLISH = "publish"
    SUBSCRIBE = "subscribe"


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """A device as the broker knows it."""

    org_id: str
    device_id: str

    def __post_init__(self) -> None:
        for name, value in (("org_id", self.org_id), ("device_id", self.device_id)):
            if not is_identifier(value):
                raise InvalidRequestError(
                    "must be 1-64 characters of letters, digits, '_', '.', '-'", field=name
                )

    @property
    def username(self) -> str:
        """The MQTT user name of the device: ``{device_id}@{org_id}``."""
        return f"{self.device_id}{USERNAME_SEPARATOR}{self.org_id}"

    @property
    def role_name(self) -> str:
        """The Mosquitto dynamic-security role holding the device's ACLs."""
        return f"aios-device/{self.org_id}/{self.device_id}"


def device_username(org_id: str, device_id: str) -> str:
    """The MQTT user name a device is provisioned with (raises on invalid ids)."""
    return DeviceIdentity(org_id, device_id).username


def parse_device_username(username: str) -> DeviceIdentity | None:
    """The device a user name designates, or ``None`` if it is not a device user name."""
    device_id, sep, org_id = username.rpartition(USERNAME_SEPARATOR)
    if not sep or not is_identifier(device_id) or not is_identifier(org_id):
        return None
    return DeviceIdentity(org_id, device_id)


def service_role_name(username: str) -> str:
    """The Mosquitto role of a service user (the ingest)."""
    if not username:
        raise InvalidRequestError("must not be empty", field="username")
    return f"aios-service/{username}"


def device_publish_topics(device: DeviceIdentity, prefix: str = DEFAULT_PREFIX) -> list[str]:
    """The exact topics the device may publish on."""
    return [
        build_topic(device.org_id, device.device_id, c, prefix=prefix)
        for c in DEVICE_PUBLISH_CHANNELS
    ]


def device_receive_topics(device: DeviceIdentity, prefix: str = DEFAULT_PREFIX) -> list[str]:
    """The exact topics the device may subscribe to and receive."""
    return [
        build_topic(device.org_id, device.device_id, c, prefix=prefix)
        for c in DEVICE_RECEIVE_CHANNELS
    ]


def service_publish_patterns(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Wildcard patterns of the topics the service may publish on."""
    return [subscription(c, prefix=prefix) for c in SERVICE_PUBLISH_CHANNELS]


def service_receive_patterns(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Wildcard patterns of the topics the service may subscribe to and receive."""
    return [subscription(c, prefix=prefix) for c in SERVICE_RECEIVE_CHANNELS]


def service_subscribe_filters(
    prefix: str = DEFAULT_PREFIX, share_group: str | None = None
) -> list[str]:
    """The filters the service may subscribe with: :func:`service_receive_patterns`, plus their
    MQTT 5 shared form for ``share_group`` (Mosquitto 2.0.11 checks a shared subscription's
    ACL against the whole ``$share/{group}/...`` filter)."""
    filters = service_receive_patterns(prefix)
    if share_group is not None:
        filters += [
            subscription(c, prefix=prefix, share_group=share_group)
            for c in SERVICE_RECEIVE_CHANNELS
        ]
    return filters


def strip_share(topic_filter: str) -> str:
    """``$share/{group}/{filter}`` -> ``{filter}``; other filters unchanged."""
    if not topic_filter.startswith(SHARE_PREFIX):
        return topic_filter
    _, sep, rest = topic_filter[len(SHARE_PREFIX) :].partition("/")
    return rest if sep else ""


def filter_within(topic_filter: str, pattern: str) -> bool:
    """Whether every topic ``topic_filter`` can match is also matched by ``pattern``.

    ``pattern`` is a filter made by :func:`aios.shared.topics.subscription` (``+`` levels,
    no ``#``). ``topic_filter`` may narrow a ``+`` to an identifier or keep it; a ``#`` or a
    ``+`` where the pattern has a fixed level would widen it, so it is not within.
    """
    levels, wanted = topic_filter.split("/"), pattern.split("/")
    if len(levels) != len(wanted):
        return False
    for level, want in zip(levels, wanted, strict=True):
        if want == "+":
            if level != "+" and not is_identifier(level):
                return False
        elif level != want:
            return False
    return True


def device_may(
    device: DeviceIdentity, action: Action, topic: str, *, prefix: str = DEFAULT_PREFIX
) -> bool:
    """Whether ``device`` may publish on / subscribe to ``topic`` (a filter when subscribing)."""
    if action is Action.PUBLISH:
        return topic in device_publish_topics(device, prefix)
    return topic in device_receive_topics(device, prefix)


def service_may(action: Action, topic: str, *, prefix: str = DEFAULT_PREFIX) -> bool:
    """Whether the service may publish on / subscribe to ``topic``."""
    if action is Action.PUBLISH:
        try:
            parsed = parse_topic(topic, prefix=prefix)
        except TopicError:
            return False
        return parsed.channel in SERVICE_PUBLISH_CHANNELS
    wanted = strip_share(topic)
    return any(filter_within(wanted, p) for p in service_receive_patterns(prefix))
