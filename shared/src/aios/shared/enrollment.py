"""HTTP bodies of enrollment: ``POST /api/v1/fleet/enroll``.

An agent exchanges a one-time enrollment token plus its hardware facts (:class:`EnrollRequest`)
for its identity and MQTT login (:class:`Enrollment`). Both sides use these Structs: the agent
encodes the request and decodes the answer, the control plane does the opposite.

Conventions are those of :mod:`aios.shared.messages`: frozen, keyword-only, a schema version
``v`` (:data:`~aios.shared.messages.SCHEMA_VERSION`); unknown fields are ignored, so a newer
agent can enroll with an older control plane and a newer control plane does not break an older
agent. The token and the password never appear in a ``repr``.

The MQTT identity a device receives (and must use):

* user name ``{device_id}@{org_id}`` (:attr:`MqttCredentials.username`, as the control plane
  provisions it on the broker);
* client id :func:`aios.shared.topics.device_client_id` ``(org_id, device_id)``: brokers bind
  the login to that client id, so a device cannot take over another device's session.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from aios.shared.messages import SCHEMA_VERSION

DeviceName = Annotated[str, Meta(min_length=1, max_length=200)]


class HardwareFacts(Struct, frozen=True, kw_only=True):
    """What a device tells about itself when it enrolls (stored with its credentials)."""

    hostname: Annotated[str, Meta(min_length=1, max_length=253)]
    arch: Annotated[str, Meta(max_length=32)] = ""
    os: Annotated[str, Meta(max_length=128)] = ""
    cpu_count: Annotated[int, Meta(ge=0, le=4096)] | None = None
    memory_mb: Annotated[int, Meta(ge=0, le=16_777_216)] | None = None
    accelerator: Annotated[str, Meta(max_length=128)] | None = None
    agent_version: Annotated[str, Meta(max_length=64)] | None = None


class EnrollRequest(Struct, frozen=True, kw_only=True):
    """Agent -> control plane. ``name`` defaults to the host name on the control plane."""

    token: Annotated[str, Meta(min_length=1, max_length=256)]
    hardware: HardwareFacts
    name: DeviceName | None = None
    v: int = SCHEMA_VERSION

    def __repr__(self) -> str:
        return f"EnrollRequest(token=***, hardware={self.hardware!r}, name={self.name!r})"


class MqttCredentials(Struct, frozen=True, kw_only=True):
    """The broker a device connects to and its login there.

    ``url`` carries no credentials; ``username`` is ``{device_id}@{org_id}``; ``password`` is
    shown once (the control plane keeps only its hash); ``topic_prefix`` is the first segments
    of every topic (:func:`aios.shared.topics.build_topic`); ``protocol`` is the MQTT version
    the broker speaks (an embedded control-plane broker speaks 3.1.1 only).
    """

    url: str
    username: str
    password: str
    topic_prefix: str
    protocol: Literal["5", "3.1.1"] = "5"

    def __repr__(self) -> str:
        return (
            f"MqttCredentials(url={self.url!r}, username={self.username!r}, password=***, "
            f"topic_prefix={self.topic_prefix!r})"
        )


class Enrollment(Struct, frozen=True, kw_only=True):
    """Control plane -> agent: what the agent keeps after enrolling."""

    device_id: str
    org_id: str
    mqtt: MqttCredentials
    v: int = SCHEMA_VERSION
