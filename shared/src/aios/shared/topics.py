"""MQTT topic scheme: built and parsed here only.

Scheme: ``{prefix}/v1/{org_id}/{device_id}/{channel}`` where ``channel`` is one of
:class:`Channel`. The prefix defaults to ``aios`` and is configurable (tests use a unique
prefix per run). Identifiers are 1-64 characters of ``[A-Za-z0-9_.-]`` so they can never
contain MQTT wildcards or separators.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from aios.shared.errors import TopicError
from aios.shared.fields import IDENTIFIER_RE

TOPIC_VERSION = "v1"
DEFAULT_PREFIX = "aios"

_IDENT = re.compile(IDENTIFIER_RE)  # always fullmatch: "$" accepts a final "\n"
_PREFIX = re.compile(rf"{IDENTIFIER_RE}(/{IDENTIFIER_RE})*")


class Channel(str, enum.Enum):
    """The last topic segments: what a message on the topic is."""

    STATUS = "status"  # retained; also the MQTT last will (device -> cloud)
    HEARTBEAT = "hb"  # device -> cloud
    DETECTIONS = "det"  # device -> cloud
    EVENTS = "evt"  # device -> cloud
    CONFIG_DESIRED = "cfg/desired"  # retained; cloud -> device
    CONFIG_REPORTED = "cfg/reported"  # device -> cloud
    ACK = "ack"  # cloud -> device: what the control plane has stored (IngestAck)


_CHANNELS = {c.value: c for c in Channel}


def is_identifier(value: str) -> bool:
    """Whether ``value`` may be used as an organization or device id in a topic."""
    return bool(_IDENT.fullmatch(value))


def _check_ident(kind: str, value: str) -> None:
    if not _IDENT.fullmatch(value):
        raise TopicError(
            f"{kind} {value!r} must be 1-64 characters of letters, digits, '_', '.', '-'"
        )


def _check_prefix(prefix: str) -> None:
    if not _PREFIX.fullmatch(prefix):
        raise TopicError(f"topic prefix {prefix!r} must be '/'-separated identifiers")


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed device topic."""

    org_id: str
    device_id: str
    channel: Channel
    prefix: str = DEFAULT_PREFIX

    def __str__(self) -> str:
        return build_topic(self.org_id, self.device_id, self.channel, prefix=self.prefix)


def build_topic(
    org_id: str, device_id: str, channel: Channel, *, prefix: str = DEFAULT_PREFIX
) -> str:
    """The topic a device publishes (or receives) ``channel`` on."""
    _check_prefix(prefix)
    _check_ident("org_id", org_id)
    _check_ident("device_id", device_id)
    return f"{prefix}/{TOPIC_VERSION}/{org_id}/{device_id}/{channel.value}"


def device_client_id(org_id: str, device_id: str) -> str:
    """The MQTT client id of a device: ``aios:{org_id}:{device_id}``.

    The agent connects with it and the control plane binds the device's broker login to it
    (Mosquitto's dynamic security ``clientid``, the embedded broker and the EMQX hook check it),
    so a device cannot take over another device's session. ``:`` cannot occur in an
    identifier, so two different devices never share a client id.
    """
    _check_ident("org_id", org_id)
    _check_ident("device_id", device_id)
    return f"aios:{org_id}:{device_id}"


def parse_topic(topic: str, *, prefix: str = DEFAULT_PREFIX) -> Topic:
    """Parse a device topic; raises :class:`TopicError` if it is not one of the scheme's."""
    head = f"{prefix}/{TOPIC_VERSION}/"
    if not topic.startswith(head):
        raise TopicError(f"topic {topic!r} is not under {head!r}")
    parts = topic[len(head) :].split("/", 2)
    if len(parts) != 3:
        raise TopicError(f"topic {topic!r} has no org/device/channel segments")
    org_id, device_id, rest = parts
    channel = _CHANNELS.get(rest)
    if channel is None:
        raise TopicError(f"topic {topic!r} has unknown channel {rest!r}")
    _check_ident("org_id", org_id)
    _check_ident("device_id", device_id)
    return Topic(org_id=org_id, device_id=device_id, channel=channel, prefix=prefix)


def subscription(
    channel: Channel,
    *,
    prefix: str = DEFAULT_PREFIX,
    org_id: str | None = None,
    device_id: str | None = None,
    share_group: str | None = None,
) -> str:
    """A subscription filter for ``channel``, wildcarding the org and/or device if not given.

    With ``share_group`` the filter is an MQTT 5 shared subscription
    (``$share/{group}/...``) so that replicas of a consumer split the messages.
    """
    _check_prefix(prefix)
    org = "+" if org_id is None else org_id
    dev = "+" if device_id is None else device_id
    if org_id is not None:
        _check_ident("org_id", org_id)
    if device_id is not None:
        _check_ident("device_id", device_id)
    filt = f"{prefix}/{TOPIC_VERSION}/{org}/{dev}/{channel.value}"
    if share_group is not None:
        _check_ident("share group", share_group)
        filt = f"$share/{share_group}/{filt}"
    return filt
