"""Wire messages exchanged over MQTT (and agent-to-cloud HTTP bodies).

Conventions for every message:

- ``v`` is the contract's major schema version (:data:`SCHEMA_VERSION`). Additive changes keep
  the version: decoders ignore fields they do not know, so a newer agent never crashes an older
  control plane. A breaking change bumps it; older peers reject such messages as
  ``future_version`` (see :mod:`aios.shared.codec`).
- ``type`` is the tag of the message in the :data:`Message` union.
- Times are Unix seconds (UTC) as floats, within years 2000..2100 (:data:`Timestamp`).
- Every field is bounded to what every storage backend of the control plane holds: text by
  length and without NUL characters, integers within the database column's range (32-bit
  :data:`Int32` or 64-bit :data:`Int64`), numbers finite, lists and maps by length. A value the
  database would refuse is therefore refused here, once, as ``wrong_schema``.
- Boxes are normalized ``xyxy`` in ``[0, 1]`` relative to the frame: ``(x1, y1, x2, y2)`` with
  ``x1 <= x2`` and ``y1 <= y2``; multiply by the frame's width and height for pixels.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from aios.shared.fields import (
    DeviceState,
    EventPhase,
    EventType,
    Identifier,
    ReportStatus,
    Severity,
    Unit,
)
from aios.shared.pipeline import PipelineSpec

SCHEMA_VERSION = 1

TS_MIN = 946684800.0  # 2000-01-01T00:00:00Z
TS_MAX = 4102444800.0  # 2100-01-01T00:00:00Z
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
FINITE_MAX = 1e15  # larger than any metric, smaller than anything a float column overflows on
_NO_NUL = r"^[^\x00]*$"

Timestamp = Annotated[float, Meta(ge=TS_MIN, le=TS_MAX)]
NonNegative = Annotated[float, Meta(ge=0.0, le=FINITE_MAX)]
Finite = Annotated[float, Meta(ge=-FINITE_MAX, le=FINITE_MAX)]
Int32 = Annotated[int, Meta(ge=0, le=INT32_MAX)]
Int64 = Annotated[int, Meta(ge=0, le=INT64_MAX)]
ShortText = Annotated[str, Meta(max_length=256, pattern=_NO_NUL)]
Name = Annotated[str, Meta(max_length=128, pattern=_NO_NUL)]
LongText = Annotated[str, Meta(max_length=2048, pattern=_NO_NUL)]
AttributeKey = Annotated[str, Meta(min_length=1, max_length=64, pattern=_NO_NUL)]
AttributeValue = ShortText | Annotated[int, Meta(ge=-INT64_MAX, le=INT64_MAX)] | Finite | bool
MAX_FRAMES = 1024
MAX_DETECTIONS = 10000  # the detect node's max_det bound
MAX_STREAMS = 64
MAX_TRACK_IDS = 1024
MAX_ATTRIBUTES = 64
MAX_ACK_RANGES = 64
MAX_ZONES = 16  # zones one detection can stand in at once
StreamState = Literal["connecting", "streaming", "failed", "stopped"]


class _Message(Struct, frozen=True, kw_only=True, tag_field="type"):
    v: int = SCHEMA_VERSION


class Detection(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One detected object. ``xyxy`` is normalized to ``[0, 1]`` (see the module docstring).

    ``zones`` are the ids of the pipeline's zone nodes that select this object on its frame
    (ascending, no duplicates; empty: in no zone, or an agent that does not tag zones, which
    omits the field). The control plane counts detections per zone from it.
    """

    class_id: Int32
    label: ShortText
    confidence: Unit
    xyxy: tuple[Unit, Unit, Unit, Unit]
    track_id: Int64 | None = None
    zones: Annotated[list[Identifier], Meta(max_length=MAX_ZONES)] = []


class FrameDetections(Struct, frozen=True, kw_only=True):
    """The detections of one processed frame, ``ts`` being its capture time."""

    ts: Timestamp
    frame_index: Int64
    width: Annotated[int, Meta(gt=0, le=INT32_MAX)]
    height: Annotated[int, Meta(gt=0, le=INT32_MAX)]
    detections: Annotated[list[Detection], Meta(max_length=MAX_DETECTIONS)]


class DetectionBatch(_Message, tag="detections", frozen=True, kw_only=True):
    """Detections of several frames of one stream. Channel ``det``, QoS 1.

    ``seq`` increases by one per batch per device (across streams) and survives agent
    restarts, so the control plane can tell duplicates (same seq) from gaps (missing seq).
    """

    device_id: Identifier
    stream_id: Identifier
    pipeline_version: Int32
    seq: Int64
    frames: Annotated[list[FrameDetections], Meta(max_length=MAX_FRAMES)]
    model: ShortText | None = None


class StreamHealth(Struct, frozen=True, kw_only=True):
    """State and rates of one camera stream, as reported in a heartbeat.

    Outages: ``down_since`` is the time of the last frame while a stream that had been
    streaming is down (``None`` otherwise); ``last_gap_s`` is the length of its last outage,
    from its last frame before to its first frame after, and ``reconnects`` counts such returns
    since the pipeline started. ``error`` never holds credentials.

    ``latency_ms_p50`` / ``latency_ms_p95``: how long this stream's frames took to be detected
    (waiting for the shared inference thread plus the inference itself), in milliseconds, over
    the frames detected since the previous heartbeat; ``None`` when none was (and from agents
    older than these fields).
    """

    stream_id: Identifier
    state: StreamState
    fps: NonNegative = 0.0
    frames_dropped: Int64 = 0
    error: LongText | None = None
    reconnects: Int64 = 0
    down_since: Timestamp | None = None
    last_gap_s: NonNegative | None = None
    latency_ms_p50: NonNegative | None = None
    latency_ms_p95: NonNegative | None = None


class Heartbeat(_Message, tag="heartbeat", frozen=True, kw_only=True):
    """Periodic health of a device (default every 10 s). Channel ``hb``, QoS 0.

    ``gpu_percent`` is the GPU's utilisation where the hardware tells it (NVML on NVIDIA GPUs,
    ``tegrastats`` on Jetson), ``None`` where it does not (never a made-up 0).
    ``inference_ms_p50``/``_p95`` cover the device's last inferences, all streams together;
    each stream's own latency is in :class:`StreamHealth`.
    """

    device_id: Identifier
    ts: Timestamp
    uptime_s: NonNegative
    agent_version: ShortText
    pipeline_id: ShortText | None = None
    pipeline_version: Int32 | None = None
    provider: ShortText | None = None
    cpu_percent: NonNegative | None = None
    mem_rss_mb: NonNegative | None = None
    mem_percent: NonNegative | None = None
    temperature_c: Finite | None = None
    gpu_percent: NonNegative | None = None
    inference_ms_p50: NonNegative | None = None
    inference_ms_p95: NonNegative | None = None
    spool_depth: Int64 = 0
    spool_dropped: Int64 = 0
    streams: Annotated[list[StreamHealth], Meta(max_length=MAX_STREAMS)] = []
    last_seq: Int64 | None = None
    """The highest detection-batch ``seq`` the agent has produced (``None``: none yet)."""
    last_event_seq: Int64 | None = None
    """The highest event ``seq`` the agent has produced (``None``: none yet)."""


class Event(_Message, tag="event", frozen=True, kw_only=True):
    """Something a rule decided is worth telling (intrusion, loitering, a line count...).

    Channel ``evt``, QoS 1. Dwell-type events have a lifecycle: ``phase`` goes ``start`` ->
    ``update``... -> ``end`` under one ``id``; instantaneous ones use ``instant``.
    ``snapshot`` references a JPEG uploaded over HTTP, never sent over MQTT.
    ``seq`` numbers the event messages of a device (every phase is one message) like
    :attr:`DetectionBatch.seq`; agents older than the acknowledgement protocol leave it out.
    """

    id: Annotated[str, Meta(min_length=1, max_length=64, pattern=_NO_NUL)]
    event_type: EventType
    severity: Severity
    device_id: Identifier
    stream_id: Identifier
    ts: Timestamp
    phase: EventPhase = "instant"
    rule_id: Name | None = None
    zone_id: Name | None = None
    line_id: Name | None = None
    track_ids: Annotated[list[Int64], Meta(max_length=MAX_TRACK_IDS)] = []
    attributes: Annotated[dict[AttributeKey, AttributeValue], Meta(max_length=MAX_ATTRIBUTES)] = {}
    snapshot: Annotated[str, Meta(max_length=512, pattern=_NO_NUL)] | None = None
    pipeline_version: Int32 | None = None
    seq: Int64 | None = None


class DeviceStatus(_Message, tag="status", frozen=True, kw_only=True):
    """Presence of a device. Channel ``status``, retained; ``offline`` is the last will."""

    device_id: Identifier
    state: DeviceState
    ts: Timestamp | None = None
    agent_version: ShortText | None = None
    reason: ShortText | None = None


class PipelineConfig(_Message, tag="pipeline_config", frozen=True, kw_only=True):
    """The pipeline a device should run. Channel ``cfg/desired``, retained, cloud -> device."""

    pipeline_id: Identifier
    version: Annotated[int, Meta(ge=1, le=INT32_MAX)]
    spec: PipelineSpec
    issued_at: Timestamp
    deployment_id: Identifier | None = None


class PipelineReport(_Message, tag="pipeline_report", frozen=True, kw_only=True):
    """What a device did with a pipeline config. Channel ``cfg/reported``.

    ``status``: ``applying`` (started, within its grace period: not final), ``applied``
    (running past its grace period, or already running when sent again), ``rejected`` (failed
    validation; ``error`` and ``field`` say why), ``failed`` (valid but could not be built or
    started, e.g. a missing model; ``error`` says why), ``rolled_back`` (failed or crashed
    within the grace period; ``active_version`` is the version running again).
    """

    device_id: Identifier
    pipeline_id: Identifier
    version: Int32
    status: ReportStatus
    ts: Timestamp
    error: LongText | None = None
    node: Name | None = None
    field: Name | None = None
    active_version: Int32 | None = None
    deployment_id: Identifier | None = None


class SeqAck(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What the control plane has stored of one numbered stream of a device.

    Stored: every seq in ``[first, contiguous]``, and every seq in ``(contiguous, upto]``
    outside the inclusive ``missing`` ranges (ascending, at most :data:`MAX_ACK_RANGES`).
    Nothing is said about seqs below ``first`` or above ``upto``. ``first == -1``: nothing
    stored yet.
    """

    first: Annotated[int, Meta(ge=-1, le=INT64_MAX)]
    contiguous: Annotated[int, Meta(ge=-1, le=INT64_MAX)]
    upto: Annotated[int, Meta(ge=-1, le=INT64_MAX)]
    missing: Annotated[list[tuple[Int64, Int64]], Meta(max_length=MAX_ACK_RANGES)] = []

    def stored(self, seq: int) -> bool:
        """Whether ``seq`` is confirmed stored by this acknowledgement."""
        if self.first < 0 or seq < self.first or seq > self.upto:
            return False
        if seq <= self.contiguous:
            return True
        return not any(lo <= seq <= hi for lo, hi in self.missing)


class IngestAck(_Message, tag="ingest_ack", frozen=True, kw_only=True):
    """The control plane's end-to-end acknowledgement to one device. Channel ``ack``, QoS 1,
    cloud -> device, published after each commit that held messages of the device.

    The agent keeps every detection batch and event in its spool until an acknowledgement
    says it is stored, and sends again what stays unconfirmed. Acknowledgements from several
    ingest replicas may arrive out of order: each one only adds confirmations.
    """

    device_id: Identifier
    ts: Timestamp
    detections: SeqAck | None = None
    events: SeqAck | None = None


Message = (
    DetectionBatch | Heartbeat | Event | DeviceStatus | PipelineConfig | PipelineReport | IngestAck
)

MESSAGE_TYPES: dict[str, type[Message]] = {
    "detections": DetectionBatch,
    "heartbeat": Heartbeat,
    "event": Event,
    "status": DeviceStatus,
    "pipeline_config": PipelineConfig,
    "pipeline_report": PipelineReport,
    "ingest_ack": IngestAck,
}


_TAGS: dict[type[Message], str] = {cls: tag for tag, cls in MESSAGE_TYPES.items()}


def message_type(msg: Message) -> str:
    """The ``type`` tag of a message."""
    return _TAGS[type(msg)]
