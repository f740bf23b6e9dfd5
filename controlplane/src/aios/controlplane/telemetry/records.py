"""From received MQTT messages to what the store writes (pure, no I/O).

:func:`classify` turns one :class:`~aios.controlplane.mqtt.subscriber.Inbound` into an
:class:`Accepted` message or a :class:`DeadLetterRow`: bad topic, anything
:func:`aios.shared.codec.decode_message` rejects (too large, not JSON, wrong schema, unknown type,
future version, wrong channel), or a payload whose ``device_id`` differs from the topic's.
Tenant checks against the devices table (``wrong_tenant``, ``unknown_device``) happen in the
store, inside the flush's transaction; ``storage_refused`` is a message the database itself
refused (see :mod:`aios.controlplane.telemetry.writer`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from aios.controlplane.mqtt.subscriber import Inbound
from aios.shared.codec import Rejection, RejectReason, decode_message
from aios.shared.errors import TopicError
from aios.shared.messages import DetectionBatch, DeviceStatus, Event, Heartbeat, PipelineReport
from aios.shared.topics import parse_topic

DEAD_LETTER_PAYLOAD_BYTES = 4096

IngestMessage = DetectionBatch | Heartbeat | DeviceStatus | Event | PipelineReport


class IngestReason(str, enum.Enum):
    """Why the ingest refused a message the contract's codec did not reject."""

    BAD_TOPIC = "bad_topic"
    UNSUPPORTED = "unsupported"
    DEVICE_MISMATCH = "device_mismatch"
    WRONG_TENANT = "wrong_tenant"
    UNKNOWN_DEVICE = "unknown_device"
    STORAGE_REFUSED = "storage_refused"


DeadReason = RejectReason | IngestReason
"""Why a message went to the dead letters: the codec's :class:`~aios.shared.codec.RejectReason`
(defined there once), or the ingest's own :class:`IngestReason`."""


@dataclass(frozen=True, slots=True)
class Accepted:
    org_id: str
    device_id: str
    message: IngestMessage
    received_at: datetime
    source: Inbound


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    reason: DeadReason
    detail: str
    topic: str
    org_id: str | None
    device_id: str | None
    payload: bytes
    payload_size: int
    received_at: datetime
    settles_seq: int | None = None
    """The detection-batch ``seq`` this dead letter settles (a batch the database refused):
    recorded in the device's completeness as received, so the end-to-end acknowledgement
    confirms it and the agent stops sending it again. Not stored with the dead letter."""

    @classmethod
    def of(
        cls,
        item: Inbound,
        reason: DeadReason,
        detail: str,
        *,
        org_id: str | None = None,
        device_id: str | None = None,
    ) -> DeadLetterRow:
        return cls(
            reason=reason,
            detail=detail[:1024],
            topic=item.topic[:512],
            org_id=org_id,
            device_id=device_id,
            payload=item.payload[:DEAD_LETTER_PAYLOAD_BYTES],
            payload_size=len(item.payload),
            received_at=datetime.fromtimestamp(item.received_at, UTC),
        )

    def as_params(self) -> dict[str, object]:
        return {
            "received_at": self.received_at,
            "reason": self.reason.value,
            "detail": self.detail,
            "topic": self.topic,
            "org_id": self.org_id,
            "device_id": self.device_id,
            "payload": self.payload,
            "payload_size": self.payload_size,
        }


def classify(item: Inbound, *, prefix: str, max_bytes: int) -> Accepted | DeadLetterRow:
    """Accept a well-formed message for its topic's device, or say why not. Never raises."""
    try:
        topic = parse_topic(item.topic, prefix=prefix)
    except TopicError as exc:
        return DeadLetterRow.of(item, IngestReason.BAD_TOPIC, str(exc))
    decoded = decode_message(item.payload, channel=topic.channel, max_bytes=max_bytes)
    if isinstance(decoded, Rejection):
        return DeadLetterRow.of(
            item,
            decoded.reason,
            decoded.detail,
            org_id=topic.org_id,
            device_id=topic.device_id,
        )
    if not isinstance(decoded, DetectionBatch | Heartbeat | DeviceStatus | Event | PipelineReport):
        return DeadLetterRow.of(
            item,
            IngestReason.UNSUPPORTED,
            f"channel {topic.channel.value!r} is not ingested",
            org_id=topic.org_id,
            device_id=topic.device_id,
        )
    if decoded.device_id != topic.device_id:
        return DeadLetterRow.of(
            item,
            IngestReason.DEVICE_MISMATCH,
            f"payload device_id {decoded.device_id!r} published on {topic.device_id!r}'s topic",
            org_id=topic.org_id,
            device_id=topic.device_id,
        )
    return Accepted(
        org_id=topic.org_id,
        device_id=topic.device_id,
        message=decoded,
        received_at=datetime.fromtimestamp(item.received_at, UTC),
        source=item,
    )


DETECTION_COLUMNS = (
    "device_id",
    "seq",
    "idx",
    "ts",
    "org_id",
    "stream_id",
    "frame_index",
    "class_id",
    "label",
    "confidence",
    "x1",
    "y1",
    "x2",
    "y2",
    "track_id",
    "zones",
)

DetectionRow = tuple[
    str,
    int,
    int,
    datetime,
    str,
    str,
    int,
    int,
    str,
    float,
    float,
    float,
    float,
    float,
    int | None,
    str | None,
]


def zone_ids(zones: list[str]) -> list[str]:
    """A detection's zones as stored and counted: each once, ascending."""
    return sorted(set(zones))


def detection_rows(org_id: str, batch: DetectionBatch) -> list[DetectionRow]:
    """One row per detected object, in :data:`DETECTION_COLUMNS` order."""
    rows: list[DetectionRow] = []
    idx = 0
    for frame in batch.frames:
        ts = datetime.fromtimestamp(frame.ts, UTC)
        for det in frame.detections:
            x1, y1, x2, y2 = det.xyxy
            rows.append(
                (
                    batch.device_id,
                    batch.seq,
                    idx,
                    ts,
                    org_id,
                    batch.stream_id,
                    frame.frame_index,
                    det.class_id,
                    det.label,
                    det.confidence,
                    x1,
                    y1,
                    x2,
                    y2,
                    det.track_id,
                    ",".join(zone_ids(det.zones)) or None,
                )
            )
            idx += 1
    return rows
