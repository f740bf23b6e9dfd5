"""YOLOv8 raw head output -> :class:`Detections` in source pixels.

The head gives, per image, a ``(4 + classes, anchors)`` array: ``cx, cy, w, h`` in network
pixels, then one sigmoid score per class. Decoding follows Ultralytics'
``non_max_suppression`` (single label per box): keep anchors whose best class score exceeds
``conf``, optionally keep only some classes, class-aware NMS at ``iou``, at most ``max_det``
boxes, then undo the letterbox. The confidence mask comes first, so only the few candidate
anchors are ever gathered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from aios.agent.detections import Detections
from aios.agent.inference.letterbox import LetterboxGeometry
from aios.agent.inference.nms import batched_nms

MAX_NMS = 30000
"""Ultralytics' cap on boxes entering NMS (the best-scoring ones are kept)."""


@dataclass(frozen=True, slots=True)
class DecodeParams:
    """Postprocessing settings. ``class_mask`` (one bool per class) keeps only those classes."""

    conf: float = 0.25
    iou: float = 0.7
    max_det: int = 300
    class_mask: npt.NDArray[np.bool_] | None = None


def decode(
    head: npt.NDArray[np.floating],
    geometry: LetterboxGeometry,
    params: DecodeParams,
) -> Detections:
    """Decode one image's head output ``(4 + classes, anchors)`` (any strides, any dtype)."""
    if head.ndim != 2 or head.shape[0] < 5:
        raise ValueError(f"expected a (4 + classes, anchors) head output, got {head.shape}")
    scores = head[4:]
    best = scores.max(axis=0)
    candidates = np.flatnonzero(best > params.conf)
    if params.class_mask is not None and candidates.size:
        class_id = scores[:, candidates].argmax(axis=0)
        keep = params.class_mask[class_id]
        candidates, class_id = candidates[keep], class_id[keep]
    else:
        class_id = scores[:, candidates].argmax(axis=0)
    if not candidates.size:
        return Detections.empty()
    confidence = best[candidates].astype(np.float32)
    if candidates.size > MAX_NMS:
        top = np.argsort(-confidence, kind="stable")[:MAX_NMS]
        candidates, class_id, confidence = candidates[top], class_id[top], confidence[top]
    xywh = head[:4, candidates].astype(np.float32)
    boxes = np.empty((candidates.size, 4), np.float32)
    half_w, half_h = xywh[2] / 2, xywh[3] / 2
    boxes[:, 0] = xywh[0] - half_w
    boxes[:, 1] = xywh[1] - half_h
    boxes[:, 2] = xywh[0] + half_w
    boxes[:, 3] = xywh[1] + half_h
    kept = batched_nms(boxes, confidence, class_id, params.iou, params.max_det)
    return Detections.from_arrays(
        xyxy=geometry.to_source(boxes[kept]),
        confidence=confidence[kept],
        class_id=class_id[kept],
    )
