"""REST shapes of the fleet domain.

The enrollment bodies (``POST /fleet/enroll``) are part of the wire contract and live in
:mod:`aios.shared.enrollment`; they are used as they are, never redefined here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

Tag = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$(?!\n)")]
Tags = Annotated[list[Tag], Meta(max_length=32)]
DeviceName = Annotated[str, Meta(min_length=1, max_length=200)]
DeviceStatusValue = Literal[
    "unknown", "online", "offline", "maintenance", "warning", "ON", "OFF", "WARNING"
]
"""What ``PUT /fleet/{id}/status`` takes: AIOS's values, or the seed's (``ON`` is stored as
``online``, ``OFF`` as ``offline``, ``WARNING`` as ``warning``)."""
SEED_TO_STORED = {"ON": "online", "OFF": "offline", "WARNING": "warning"}


class DeviceCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: DeviceName
    tags: Tags = []


class DeviceUpdate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: DeviceName | None = None
    tags: Tags | None = None


class StatusUpdate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    status: DeviceStatusValue


class DeviceOut(msgspec.Struct, frozen=True, kw_only=True):
    """``status`` is AIOS's (``online``, ``offline``, ``unknown``, or an operator's
    ``maintenance``/``warning``); ``seed_status`` the seed's ``ON``/``OFF``/``WARNING``."""

    id: str
    name: str
    status: str
    seed_status: Literal["ON", "OFF", "WARNING"]
    tags: list[str]
    last_seen_at: datetime | None
    agent_version: str | None
    created_at: datetime
    updated_at: datetime


class StreamProblem(msgspec.Struct, frozen=True, kw_only=True):
    device_id: str
    stream_id: str
    state: str
    error: str | None = None


class FleetSummary(msgspec.Struct, frozen=True, kw_only=True):
    """Devices by status (AIOS's, and the seed's ``ON``/``OFF``/``WARNING``, always all three),
    and camera streams by state from the last heartbeats (the cameras of an offline device
    count as ``offline``, whatever its last heartbeat said)."""

    total: int
    by_status: dict[str, int]
    by_seed_status: dict[str, int]
    streams_by_state: dict[str, int]
    unhealthy_streams: list[StreamProblem]


class TagCount(msgspec.Struct, frozen=True, kw_only=True):
    tag: str
    devices: int


class EnrollmentTokenCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``max_uses`` 1 is a single-use token; ``null`` allows any number until it expires."""

    name: Annotated[str, Meta(max_length=200)] = ""
    max_uses: Annotated[int, Meta(ge=1, le=100_000)] | None = 1
    expires_in_s: Annotated[int, Meta(ge=60, le=30 * 86400)] = 86400
    tags: Tags = []


class EnrollmentTokenOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    max_uses: int | None
    uses: int
    tags: list[str]
    expires_at: datetime
    revoked_at: datetime | None
    created_at: datetime


class EnrollmentTokenIssued(msgspec.Struct, frozen=True, kw_only=True):
    """The token itself appears here only, once."""

    token: str
    enrollment_token: EnrollmentTokenOut
