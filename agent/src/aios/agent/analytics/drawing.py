"""Drawing detections, zones and lines on a frame, and JPEG encoding, for event snapshots.

:func:`annotate` draws on a copy and never changes the frame it is given; the ``draw_*``
functions draw in place on a canvas the caller owns. Frames are BGR ``uint8`` ``(H, W, 3)``.
OpenCV errors are translated to :class:`~aios.agent.errors.InputError` here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np
import numpy.typing as npt

from aios.agent.analytics.lines import LineZone
from aios.agent.analytics.zones import PolygonZone
from aios.agent.detections import NO_TRACK, Detections
from aios.agent.errors import InputError

Frame = npt.NDArray[np.uint8]
Color = tuple[int, int, int]

# A few well-separated BGR colours, picked by track id (or class id when untracked).
PALETTE: tuple[Color, ...] = (
    (56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207),
    (10, 249, 72), (23, 204, 146), (134, 219, 61), (52, 147, 26), (187, 212, 0),
    (168, 153, 44), (255, 194, 0), (147, 69, 52), (255, 115, 100), (236, 24, 0),
    (255, 56, 132), (133, 0, 82), (255, 56, 203), (200, 149, 255), (199, 55, 255),
)  # fmt: skip
ZONE_COLOR: Color = (0, 200, 255)
LINE_COLOR: Color = (255, 255, 255)
TEXT_COLOR: Color = (255, 255, 255)


def color_for(key: int) -> Color:
    return PALETTE[key % len(PALETTE)]


def _check_frame(frame: npt.NDArray[np.uint8]) -> None:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3 or frame.size == 0:
        raise InputError(f"expected a BGR uint8 (H, W, 3) frame, got {frame.dtype} {frame.shape}")


def _label(canvas: Frame, text: str, x: int, y: int, color: Color) -> None:
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1
    (tw, th), baseline = cv2.getTextSize(text, font, scale, thickness)
    top = max(y - th - baseline - 2, 0)
    cv2.rectangle(canvas, (x, top), (x + tw + 4, top + th + baseline + 2), color, cv2.FILLED)
    cv2.putText(
        canvas, text, (x + 2, top + th + 1), font, scale, TEXT_COLOR, thickness, cv2.LINE_AA
    )


def draw_detections(
    canvas: Frame, detections: Detections, labels: Mapping[int, str] | Sequence[str] | None = None
) -> None:
    """Boxes with ``label #track confidence`` captions, coloured by track (or class)."""
    for i in range(len(detections)):
        x1, y1, x2, y2 = (round(float(v)) for v in detections.xyxy[i])
        class_id = int(detections.class_id[i])
        track_id = int(detections.tracker_id[i])
        color = color_for(track_id if track_id != NO_TRACK else class_id)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, 2)
        name = _class_name(labels, class_id)
        parts = [name] + ([f"#{track_id}"] if track_id != NO_TRACK else [])
        parts.append(f"{float(detections.confidence[i]):.2f}")
        _label(canvas, " ".join(parts), x1, y1, color)


def draw_zone(canvas: Frame, zone: PolygonZone, color: Color = ZONE_COLOR) -> None:
    """The zone's outline, a translucent fill, and its current count."""
    height, width = canvas.shape[:2]
    points = np.round(zone.polygon_px((width, height))).astype(np.int32).reshape(-1, 1, 2)
    overlay = canvas.copy()
    cv2.fillPoly(overlay, [points], color)
    cv2.addWeighted(overlay, 0.2, canvas, 0.8, 0.0, dst=canvas)
    cv2.polylines(canvas, [points], True, color, 2, cv2.LINE_AA)
    x, y = (int(v) for v in points[:, 0, :].min(axis=0))
    _label(canvas, f"{zone.current_count}", x, y + 20, color)


def draw_line(canvas: Frame, line: LineZone, color: Color = LINE_COLOR) -> None:
    """The directed segment (arrow towards ``end``) with its in/out counts."""
    height, width = canvas.shape[:2]
    start, end = line.segment_px((width, height))
    p1 = (round(float(start[0])), round(float(start[1])))
    p2 = (round(float(end[0])), round(float(end[1])))
    cv2.arrowedLine(canvas, p1, p2, color, 2, cv2.LINE_AA, tipLength=0.03)
    mid_x, mid_y = (p1[0] + p2[0]) // 2, (p1[1] + p2[1]) // 2
    _label(canvas, f"in {line.in_count} out {line.out_count}", mid_x, mid_y, (80, 80, 80))


def annotate(
    frame: Frame,
    detections: Detections,
    *,
    zones: Sequence[PolygonZone] = (),
    lines: Sequence[LineZone] = (),
    labels: Mapping[int, str] | Sequence[str] | None = None,
) -> Frame:
    """A copy of ``frame`` with zones, lines and then detections drawn on it."""
    _check_frame(frame)
    canvas: Frame = np.ascontiguousarray(frame).copy()
    for zone in zones:
        draw_zone(canvas, zone)
    for line in lines:
        draw_line(canvas, line)
    draw_detections(canvas, detections, labels)
    return canvas


def encode_jpeg(frame: Frame, quality: int = 80) -> bytes:
    """JPEG bytes of a BGR frame; ``quality`` 1-100."""
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    _check_frame(frame)
    try:
        ok, buffer = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    except cv2.error as exc:
        raise InputError(f"cannot encode frame {frame.shape} as JPEG: {exc}") from exc
    if not ok:
        raise InputError(f"cannot encode frame {frame.shape} as JPEG")
    return bytes(buffer.tobytes())


def _class_name(labels: Mapping[int, str] | Sequence[str] | None, class_id: int) -> str:
    if labels is None:
        return str(class_id)
    if isinstance(labels, Mapping):
        return labels.get(class_id, str(class_id))
    return labels[class_id] if 0 <= class_id < len(labels) else str(class_id)
