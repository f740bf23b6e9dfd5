"""Messages the control plane pushes to dashboards over its WebSocket (``/api/v1/ws``).

They never travel over MQTT, so they are not part of :data:`aios.shared.messages.Message`,
but their schema is pinned with the rest of the contract
(:func:`aios.shared.codec.contract_schema`); they follow the same conventions: frozen,
keyword-only, a ``type`` tag, a schema version ``v``, times as Unix seconds (UTC). Every
message belongs to one organization (``org_id``) and is only ever sent to that organization's
connections.
"""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from aios.shared.messages import Heartbeat

LIVE_SCHEMA_VERSION = 1


class _Live(Struct, frozen=True, kw_only=True, tag_field="type"):
    v: int = LIVE_SCHEMA_VERSION
    org_id: str


class DeviceStatusUpdate(_Live, tag="device_status_update", frozen=True, kw_only=True):
    """A device's presence changed (``previous`` -> ``status``)."""

    device_id: str
    status: str
    previous: str
    reason: str
    changed_at: float


class NewEvent(_Live, tag="new_event", frozen=True, kw_only=True):
    """A device raised an event (or an event's lifecycle moved: ``phase``)."""

    device_id: str
    event_id: str
    stream_id: str
    event_type: str
    severity: Literal["info", "warning", "critical"]
    phase: Literal["instant", "start", "update", "end"]
    ts: float
    snapshot_url: str | None = None


class PipelineStatusUpdate(_Live, tag="pipeline_status_update", frozen=True, kw_only=True):
    """A device reported on a deployment (``status`` is the target's new status)."""

    device_id: str
    pipeline_id: str
    deployment_id: str | None
    version: int
    status: Literal["pending", "applied", "rejected", "failed", "rolled_back"]
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
