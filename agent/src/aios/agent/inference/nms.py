"""Non-maximum suppression in numpy, with the semantics of ``torchvision.ops.nms``.

IoU is ``inter / (area_a + area_b - inter)`` on continuous coordinates (no ``+1``); a box is
suppressed when its IoU with a higher-scoring kept box is strictly greater than the threshold.
Class-aware NMS offsets each box by ``class_id * MAX_WH`` as Ultralytics does, so boxes of
different classes never overlap. Each loop iteration keeps one box, so the Python loop runs
once per detection, not once per candidate.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

MAX_WH = 7680
"""Ultralytics' class offset for class-aware NMS: larger than any box side."""


def nms(
    boxes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    iou_threshold: float,
    max_keep: int | None = None,
) -> npt.NDArray[np.intp]:
    """Indices of the boxes (N, 4 xyxy) that survive, best score first."""
    if boxes.ndim != 2 or boxes.shape[1] != 4 or scores.shape != (boxes.shape[0],):
        raise ValueError(
            f"expected boxes (N, 4) and scores (N,), got {boxes.shape}, {scores.shape}"
        )
    limit = boxes.shape[0] if max_keep is None else max_keep
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = (np.ascontiguousarray(boxes[order, k]) for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    remaining = np.arange(order.size)
    keep: list[int] = []
    while remaining.size and len(keep) < limit:
        i = int(remaining[0])
        keep.append(i)
        rest = remaining[1:]
        if not rest.size:
            break
        w = np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])
        h = np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])
        inter = np.maximum(w, 0) * np.maximum(h, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = inter / (areas[i] + areas[rest] - inter)
        remaining = rest[~(iou > iou_threshold)]
    return order[np.asarray(keep, dtype=np.intp)]


def batched_nms(
    boxes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    class_ids: npt.NDArray[np.integer],
    iou_threshold: float,
    max_keep: int | None = None,
) -> npt.NDArray[np.intp]:
    """Class-aware NMS: boxes only suppress boxes of their own class."""
    if boxes.shape[0] == 0:
        return np.zeros(0, np.intp)
    offset = (class_ids.astype(np.float32) * np.float32(MAX_WH))[:, None]
    return nms(boxes + offset, scores, iou_threshold, max_keep)
