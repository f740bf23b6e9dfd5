"""Wire messages exchanged over MQTT (and agent-to-cloud HTTP bodies).

Conventions for every message:

- ``v`` is the contract's major schema version (:data:`SCHEMA_VERSION`). Additive changes keep
  the version: decoders ignore fields they do not know, so a newer agent never crashes an older
  control plane. A breaking change bumps it; older peers reject such messages as
  ``future_version`` (see :mod:`aios.shared.codec`).
- ``type`` is the tag of the message in the :data:`Message` union.
- Times are Unix seconds (UTC) as floats.
- Boxes are normalized ``xyxy`` in ``[0, 1]`` relative to the frame: ``(x1, y1, x2, y2)`` with
  ``x1 <= x2`` and ``y1 <= y2``; multiply by the frame's width and height for pixels.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from aios.shared.pipeline import PipelineSpec

SCHEMA_VERSION = 1

Unit = Annotated[float, Meta(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Meta(ge=0.0)]
Identifier = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
ShortText = Annotated[str, Meta(max_length=256)]
AttributeValue = str | int | float | bool
Severity = Literal["info", "warning", "critical"]
StreamState = Literal["connecting", "streaming", "failed", "stopped"]


class _Message(Struct, frozen=True, kw_only=True, tag_field="type"):
    v: int = SCHEMA_VERSION


class Detection(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One detected object. ``xyxy`` is normalized to ``[0, 1]`` (see the module docstring)."""

    class_id: Annotated[int, Meta(ge=0)]
    label: ShortText
    confidence: Unit
    xyxy: tuple[Unit, Unit, Unit, Unit]
    track_id: int | None = None


class FrameDetections(Struct, frozen=True, kw_only=True):
    """The detections of one processed frame, ``ts`` being its capture time."""

    ts: float
    frame_index: Annotated[int, Meta(ge=0)]
    width: Annotated[int, Meta(gt=0)]
    height: Annotated[int, Meta(gt=0)]
    detections: list[Detection]


class DetectionBatch(_Message, tag="detections", frozen=True, kw_only=True):
    """Detections of several frames of one stream. Channel ``det``, QoS 1.

    ``seq`` increases by one per batch per device (across streams) and survives agent
    restarts, so the control plane can tell duplicates (same seq) from gaps (missing seq).
    """

    device_id: Identifier
    stream_id: Identifier
    pipeline_version: Annotated[int, Meta(ge=0)]
    seq: Annotated[int, Meta(ge=0)]
    frames: list[FrameDetections]
    model: ShortText | None = None


class StreamHealth(Struct, frozen=True, kw_only=True):
    """State and rates of one camera stream, as reported in a heartbeat.

    Outages: ``down_since`` is the time of the last frame while a stream that had been
    streaming is down (``None`` otherwise); ``last_gap_s`` is the length of its last outage,
    from its last frame before to its first frame after, and ``reconnects`` counts such returns
    since the pipeline started. ``error`` never holds credentials.
    """

    stream_id: Identifier
    state: StreamState
    fps: NonNegative = 0.0
    frames_dropped: Annotated[int, Meta(ge=0)] = 0
    error: str | None = None
    reconnects: Annotated[int, Meta(ge=0)] = 0
    down_since: float | None = None
    last_gap_s: NonNegative | None = None


class Heartbeat(_Message, tag="heartbeat", frozen=True, kw_only=True):
    """Periodic health of a device (default every 10 s). Channel ``hb``, QoS 0."""

    device_id: Identifier
    ts: float
    uptime_s: NonNegative
    agent_version: ShortText
    pipeline_id: str | None = None
    pipeline_version: int | None = None
    provider: ShortText | None = None
    cpu_percent: NonNegative | None = None
    mem_rss_mb: NonNegative | None = None
    mem_percent: NonNegative | None = None
    temperature_c: float | None = None
    gpu_percent: NonNegative | None = None
    inference_ms_p50: NonNegative | None = None
    inference_ms_p95: NonNegative | None = None
    spool_depth: Annotated[int, Meta(ge=0)] = 0
    spool_dropped: Annotated[int, Meta(ge=0)] = 0
    streams: list[StreamHealth] = []


class Event(_Message, tag="event", frozen=True, kw_only=True):
    """Something a rule decided is worth telling (intrusion, loitering, a line count...).

    Channel ``evt``, QoS 1. Dwell-type events have a lifecycle: ``phase`` goes ``start`` ->
    ``update``... -> ``end`` under one ``id``; instantaneous ones use ``instant``.
    ``snapshot`` references a JPEG uploaded over HTTP, never sent over MQTT.
    """

    id: Annotated[str, Meta(min_length=1, max_length=64)]
    event_type: Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    severity: Severity
    device_id: Identifier
    stream_id: Identifier
    ts: float
    phase: Literal["instant", "start", "update", "end"] = "instant"
    rule_id: str | None = None
    zone_id: str | None = None
    line_id: str | None = None
    track_ids: list[int] = []
    attributes: dict[str, AttributeValue] = {}
    snapshot: str | None = None
    pipeline_version: int | None = None


class DeviceStatus(_Message, tag="status", frozen=True, kw_only=True):
    """Presence of a device. Channel ``status``, retained; ``offline`` is the last will."""

    device_id: Identifier
    state: Literal["online", "offline"]
    ts: float | None = None
    agent_version: ShortText | None = None
    reason: ShortText | None = None


class PipelineConfig(_Message, tag="pipeline_config", frozen=True, kw_only=True):
    """The pipeline a device should run. Channel ``cfg/desired``, retained, cloud -> device."""

    pipeline_id: Identifier
    version: Annotated[int, Meta(ge=1)]
    spec: PipelineSpec
    issued_at: float
    deployment_id: str | None = None


class PipelineReport(_Message, tag="pipeline_report", frozen=True, kw_only=True):
    """What a device did with a pipeline config. Channel ``cfg/reported``.

    ``status``: ``applied`` (running), ``rejected`` (failed validation; ``error`` and ``field``
    say why), ``failed`` (valid but did not start), ``rolled_back`` (failed or crashed within
    the grace period; ``active_version`` is the version running again).
    """

    device_id: Identifier
    pipeline_id: Identifier
    version: int
    status: Literal["applied", "rejected", "failed", "rolled_back"]
    ts: float
    error: str | None = None
    node: str | None = None
    field: str | None = None
    active_version: int | None = None
    deployment_id: str | None = None


Message = DetectionBatch | Heartbeat | Event | DeviceStatus | PipelineConfig | PipelineReport

MESSAGE_TYPES: dict[str, type[Message]] = {
    "detections": DetectionBatch,
    "heartbeat": Heartbeat,
    "event": Event,
    "status": DeviceStatus,
    "pipeline_config": PipelineConfig,
    "pipeline_report": PipelineReport,
}


_TAGS: dict[type[Message], str] = {cls: tag for tag, cls in MESSAGE_TYPES.items()}


def message_type(msg: Message) -> str:
    """The ``type`` tag of a message."""
    return _TAGS[type(msg)]
