"""REST shapes of the telemetry domain."""

from __future__ import annotations

from datetime import datetime

import msgspec


class DetectionItem(msgspec.Struct, frozen=True, kw_only=True):
    """One stored detection. ``xyxy`` is normalized to ``[0, 1]`` of the frame."""

    device_id: str
    stream_id: str
    ts: datetime
    label: str
    class_id: int
    confidence: float
    xyxy: tuple[float, float, float, float]
    track_id: int | None
    seq: int
    frame_index: int


class DetectionPage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of detections, newest first; pass ``next_cursor`` as ``cursor`` for the next."""

    items: list[DetectionItem]
    next_cursor: str | None
