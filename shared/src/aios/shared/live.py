"""Messages the control plane pushes to dashboards over its WebSocket (``/api/v1/ws``).

They never travel over MQTT, so they are not part of :data:`aios.shared.messages.Message`,
but their schema is pinned with the rest of the contract
(:func:`aios.shared.codec.contract_schema`); they follow the same conventions: frozen,
keyword-only, a ``type`` tag, a schema version ``v``, times as Unix seconds (UTC). Every
message belongs to one organization (``org_id``) and is only ever sent to that organization's
connections.

The seed's documented shapes hold (a dashboard written against them works unchanged; extra keys
are AIOS's): ``device_status_update`` has ``device_id``, ``status`` (:data:`SeedStatus`) and
``timestamp``; ``new_event`` has ``event`` with ``id``, ``event_type`` and ``severity``;
``pipeline_status_update`` has ``pipeline_id`` and ``status`` (:data:`PipelineActivity`).
Each message and each value is described in ``docs/websocket.md``.
"""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from aios.shared.messages import Heartbeat

LIVE_SCHEMA_VERSION = 2
"""2: ``status`` of ``device_status_update`` and ``pipeline_status_update`` took the seed's
value domains (AIOS's values moved to ``presence`` and ``deployment_status``)."""

SeedStatus = Literal["ON", "OFF", "WARNING"]
"""``ON``: online and healthy; ``WARNING``: online but unhealthy (``warnings`` says why);
``OFF``: offline or never seen."""

PipelineActivity = Literal["active", "inactive", "error"]
"""A pipeline on one device: ``active`` (running it: applied, or applying within its grace
window), ``inactive`` (not running it: not reported yet, waiting, cancelled or superseded),
``error`` (rejected, failed, or rolled back), ``inactive`` too when the device never answered
(expired)."""

DeploymentStatus = Literal[
    "pending",
    "applying",
    "applied",
    "rejected",
    "failed",
    "rolled_back",
    "waiting",
    "cancelled",
    "superseded",
    "expired",
]

_ACTIVITY: dict[str, PipelineActivity] = {
    "applying": "active",
    "applied": "active",
    "rejected": "error",
    "failed": "error",
    "rolled_back": "error",
}


def pipeline_activity(deployment_status: str) -> PipelineActivity:
    """The seed's pipeline status for a deployment target's status."""
    return _ACTIVITY.get(deployment_status, "inactive")


class _Live(Struct, frozen=True, kw_only=True, tag_field="type"):
    v: int = LIVE_SCHEMA_VERSION
    org_id: str


class DeviceStatusUpdate(_Live, tag="device_status_update", frozen=True, kw_only=True):
    """A device's presence or health changed.

    ``status`` and ``timestamp`` (when it changed) are the seed's; ``presence`` is AIOS's
    (``online``, ``offline``, ``unknown``), ``previous`` the presence before, ``warnings``
    why a ``WARNING`` (``camera_down:<stream>``, ``spool_dropping``, ``too_hot``).
    """

    device_id: str
    status: SeedStatus
    timestamp: float
    presence: str
    previous: str
    reason: str
    changed_at: float
    warnings: list[str] = []


class EventSummary(Struct, frozen=True, kw_only=True):
    """The seed's ``event`` object of ``new_event``."""

    id: str
    event_type: str
    severity: Literal["info", "warning", "critical"]
    device_id: str
    stream_id: str
    phase: Literal["instant", "start", "update", "end"]
    timestamp: float
    snapshot_url: str | None = None


class NewEvent(_Live, tag="new_event", frozen=True, kw_only=True):
    """A device raised an event (or an event's lifecycle moved: ``phase``).

    ``event`` is the seed's shape; the flat keys beside it are AIOS's (the same values)."""

    event: EventSummary
    device_id: str
    event_id: str
    stream_id: str
    event_type: str
    severity: Literal["info", "warning", "critical"]
    phase: Literal["instant", "start", "update", "end"]
    ts: float
    snapshot_url: str | None = None


def new_event(org_id: str, event: EventSummary) -> NewEvent:
    """The ``new_event`` of ``event``: the seed's object and AIOS's flat keys, the same values."""
    e = event
    return NewEvent(
        org_id=org_id, event=e, device_id=e.device_id, event_id=e.id, stream_id=e.stream_id,
        event_type=e.event_type, severity=e.severity, phase=e.phase, ts=e.timestamp,
        snapshot_url=e.snapshot_url,
    )  # fmt: skip


class PipelineStatusUpdate(_Live, tag="pipeline_status_update", frozen=True, kw_only=True):
    """A device's deployment target moved: the device reported, or a newer deployment
    superseded it. ``status`` is the seed's (:func:`pipeline_activity` of
    ``deployment_status``)."""

    pipeline_id: str
    status: PipelineActivity
    device_id: str
    deployment_id: str | None
    version: int
    deployment_status: DeploymentStatus
    error: str | None = None


class EventAcknowledged(_Live, tag="event_acknowledged", frozen=True, kw_only=True):
    """An operator acknowledged an event (``user_name`` as it was then)."""

    device_id: str
    event_id: str
    user_id: str | None
    user_name: str
    acknowledged_at: float


class DeviceHeartbeat(_Live, tag="device_heartbeat", frozen=True, kw_only=True):
    """A device's heartbeat, as stored by the ingest (the latest of each device per ingest
    flush, so at most one per device per heartbeat interval): what
    ``GET /api/v1/fleet/{id}/heartbeat`` answers, pushed instead of polled. ``received_at`` is
    when the control plane received it (the device's ``last_seen_at``)."""

    device_id: str
    received_at: float
    heartbeat: Heartbeat


LiveMessage = (
    DeviceStatusUpdate | NewEvent | PipelineStatusUpdate | EventAcknowledged | DeviceHeartbeat
)
