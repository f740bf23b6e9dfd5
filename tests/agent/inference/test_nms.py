"""NMS semantics (torchvision's, class-aware like Ultralytics)."""

from __future__ import annotations

import numpy as np
import pytest

from aios.agent.inference.nms import batched_nms, nms


def _arr(rows: list[list[float]]) -> np.ndarray:
    return np.array(rows, np.float32).reshape(-1, 4)


@pytest.mark.parametrize(
    ("boxes", "scores", "classes", "iou", "max_keep", "kept"),
    [
        # overlapping same-class boxes: the weaker one goes (IoU 0.81 > 0.7)
        ([[0, 0, 10, 10], [0, 0, 10, 9]], [0.8, 0.9], [0, 0], 0.7, None, [1]),
        # the same boxes in different classes both stay
        ([[0, 0, 10, 10], [0, 0, 10, 9]], [0.8, 0.9], [0, 1], 0.7, None, [1, 0]),
        # IoU exactly at the threshold is kept (suppression needs IoU > threshold)
        ([[0, 0, 10, 10], [0, 0, 10, 5]], [0.9, 0.8], [0, 0], 0.5, None, [0, 1]),
        # disjoint boxes all stay, best first
        (
            [[0, 0, 1, 1], [5, 5, 6, 6], [9, 9, 10, 10]],
            [0.1, 0.3, 0.2],
            [0, 0, 0],
            0.7,
            None,
            [1, 2, 0],
        ),
        # a suppressed box suppresses nothing: C overlaps B (gone) but not A
        (
            [[0, 0, 10, 10], [2, 0, 12, 10], [4, 0, 14, 10]],
            [0.9, 0.8, 0.7],
            [0, 0, 0],
            0.5,
            None,
            [0, 2],
        ),
        # max_keep stops early
        ([[0, 0, 1, 1], [5, 5, 6, 6], [9, 9, 10, 10]], [0.1, 0.3, 0.2], [0, 0, 0], 0.7, 2, [1, 2]),
        # nothing in, nothing out
        ([], [], [], 0.7, None, []),
        # degenerate zero-area boxes never divide by zero into a suppression
        ([[1, 1, 1, 1], [1, 1, 1, 1]], [0.9, 0.8], [0, 0], 0.7, None, [0, 1]),
    ],
)
def test_batched_nms(
    boxes: list[list[float]],
    scores: list[float],
    classes: list[int],
    iou: float,
    max_keep: int | None,
    kept: list[int],
) -> None:
    got = batched_nms(
        _arr(boxes), np.array(scores, np.float32), np.array(classes, np.int64), iou, max_keep
    )
    assert got.tolist() == kept


def test_nms_ignores_classes() -> None:
    boxes = _arr([[0, 0, 10, 10], [0, 0, 10, 9]])
    assert nms(boxes, np.array([0.8, 0.9], np.float32), 0.7).tolist() == [1]


def test_nms_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="expected boxes"):
        nms(_arr([[0, 0, 1, 1]]), np.zeros(2, np.float32), 0.5)
