"""Decoding the YOLOv8 head without running the network.

``data/bus_head_candidates.npy`` holds the 61 anchors (columns of ``output0``, shape 84 x 61)
whose best class score exceeds 0.05 when ``yolov8n-coco.onnx`` sees ``bus.jpg`` (810x1080);
the other 8339 anchors cannot pass a 0.25 threshold, so decoding this slice must give the
reference boxes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aios.agent.inference.decode import DecodeParams, decode
from aios.agent.inference.letterbox import LetterboxGeometry

DATA = Path(__file__).parent / "data"
BUS = LetterboxGeometry.compute(1080, 810, 640, 640)
PERSON, BUS_CLASS = 0, 5


@pytest.fixture(scope="module")
def bus_head() -> np.ndarray:
    head: np.ndarray = np.load(DATA / "bus_head_candidates.npy")
    return head


def _box_iou(a: list[float], b: list[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_recorded_output_decodes_to_the_reference_boxes(
    bus_head: np.ndarray, testdata_dir: Path
) -> None:
    expected = json.loads((testdata_dir / "expected" / "yolov8n-coco.json").read_text())
    ref = expected["images"]["bus.jpg"]
    det = decode(bus_head, BUS, DecodeParams(conf=0.25, iou=0.7))
    assert len(det) == len(ref)
    for row, want in zip(range(len(det)), ref, strict=True):
        assert det.class_id[row] == (PERSON if want["cls"] == "person" else BUS_CLASS)
        assert abs(float(det.confidence[row]) - want["conf"]) < 0.02
        assert _box_iou(det.xyxy[row].tolist(), want["xyxy"]) >= 0.9


@pytest.mark.parametrize(
    ("params", "count", "classes"),
    [
        (DecodeParams(conf=0.25, iou=0.7), 5, {PERSON, BUS_CLASS}),
        (DecodeParams(conf=0.5, iou=0.7), 4, {PERSON, BUS_CLASS}),  # the 0.37 person goes
        (DecodeParams(conf=0.25, iou=0.7, max_det=2), 2, {PERSON}),  # two best persons
        (DecodeParams(conf=0.25, iou=0.7, class_mask=np.arange(80) == BUS_CLASS), 1, {BUS_CLASS}),
        (DecodeParams(conf=0.25, iou=0.7, class_mask=np.arange(80) == 2), 0, set()),  # cars
        (DecodeParams(conf=0.95, iou=0.7), 0, set()),
        (DecodeParams(conf=0.05, iou=0.99), 61, None),  # almost no suppression
    ],
)
def test_decode_settings(
    bus_head: np.ndarray, params: DecodeParams, count: int, classes: set[int] | None
) -> None:
    det = decode(bus_head, BUS, params)
    assert (len(det) == count) if classes is not None else (len(det) > 20)
    if classes is not None:
        assert set(det.class_id.tolist()) == classes
    assert np.all(np.diff(det.confidence) <= 0)  # best first


def _head(anchors: list[tuple[float, float, float, float, int, float]], nc: int = 3) -> np.ndarray:
    """A synthetic (4 + nc, N) head from (cx, cy, w, h, class, score) rows."""
    head = np.zeros((4 + nc, len(anchors)), np.float32)
    for j, (cx, cy, w, h, cls, score) in enumerate(anchors):
        head[:4, j] = (cx, cy, w, h)
        head[4 + cls, j] = score
    return head


@pytest.mark.parametrize(
    ("anchors", "boxes"),
    [
        # centre/size -> corners, in source pixels of a 640x640 frame (no letterbox)
        ([(100, 100, 20, 40, 1, 0.9)], [[90, 80, 110, 120]]),
        # a box beyond the frame is clipped
        ([(630, 5, 40, 20, 0, 0.9)], [[610, 0, 640, 15]]),
        # the score must be strictly above conf
        ([(100, 100, 20, 40, 1, 0.25)], []),
        # two near-identical boxes of one class: one survives
        ([(100, 100, 20, 40, 2, 0.9), (101, 100, 20, 40, 2, 0.8)], [[90, 80, 110, 120]]),
    ],
)
def test_synthetic_head(
    anchors: list[tuple[float, float, float, float, int, float]], boxes: list[list[float]]
) -> None:
    geo = LetterboxGeometry.compute(640, 640, 640, 640)
    det = decode(_head(anchors), geo, DecodeParams(conf=0.25, iou=0.7))
    np.testing.assert_allclose(det.xyxy, np.array(boxes, np.float32).reshape(-1, 4))


def test_fp16_head_decodes_like_fp32(bus_head: np.ndarray) -> None:
    det32 = decode(bus_head, BUS, DecodeParams())
    det16 = decode(bus_head.astype(np.float16), BUS, DecodeParams())
    assert det16.class_id.tolist() == det32.class_id.tolist()
    np.testing.assert_allclose(det16.xyxy, det32.xyxy, atol=1.5)


def test_malformed_head_is_refused() -> None:
    with pytest.raises(ValueError, match="expected a"):
        decode(np.zeros((4, 10), np.float32), BUS, DecodeParams())
