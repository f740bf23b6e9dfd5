"""Snapshot drawing: on a copy, boxes and zones visible, JPEG that decodes back."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from aios.agent.analytics.drawing import annotate, encode_jpeg
from aios.agent.analytics.lines import LineZone
from aios.agent.analytics.zones import PolygonZone
from aios.agent.detections import Detections
from aios.agent.errors import InputError


def test_annotate_draws_on_a_copy() -> None:
    frame = np.zeros((240, 320, 3), np.uint8)
    det = Detections.from_arrays([[50, 60, 150, 200]], [0.87], [0], [12])
    zone = PolygonZone([(0.6, 0.1), (0.95, 0.1), (0.95, 0.5), (0.6, 0.5)])
    line = LineZone((0.0, 0.9), (1.0, 0.9))
    out = annotate(frame, det, zones=[zone], lines=[line], labels=["person"])
    assert not frame.any(), "the input frame is untouched"
    assert out.shape == frame.shape
    assert out.dtype == np.uint8
    assert out[130, 50].any(), "the box's left edge is drawn"
    assert out[130, 150].any(), "the box's right edge is drawn"
    assert not out[130, 100].any(), "the box inside is not filled"
    assert out[60, 260].any(), "the zone is tinted"
    assert out[216, 10].any(), "the line is drawn"


@pytest.mark.parametrize("labels", [None, ["person"], {0: "person"}, ["a", "b"]])
def test_annotate_with_any_labels(labels: list[str] | dict[int, str] | None) -> None:
    frame = np.full((120, 160, 3), 128, np.uint8)
    det = Detections.from_arrays([[10, 20, 60, 100], [0, 0, 5, 5]], [0.5, 0.6], [0, 9])
    assert annotate(frame, det, labels=labels).shape == frame.shape


@pytest.mark.parametrize("quality", [10, 50, 95])
def test_encode_jpeg_decodes_back(quality: int) -> None:
    frame = np.random.default_rng(0).integers(0, 255, (90, 160, 3), dtype=np.uint8)
    data = encode_jpeg(frame, quality)
    assert data[:2] == b"\xff\xd8"
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    assert decoded.shape == frame.shape


def test_jpeg_quality_changes_size() -> None:
    frame = np.random.default_rng(1).integers(0, 255, (90, 160, 3), dtype=np.uint8)
    assert len(encode_jpeg(frame, 20)) < len(encode_jpeg(frame, 95))


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((10, 10), np.uint8),
        np.zeros((10, 10, 3), np.float32),
        np.zeros((0, 10, 3), np.uint8),
    ],
)
def test_bad_frames_are_input_errors(frame: npt.NDArray[np.uint8]) -> None:
    with pytest.raises(InputError):
        encode_jpeg(frame)
    with pytest.raises(InputError):
        annotate(frame, Detections.empty())


def test_jpeg_quality_is_checked() -> None:
    with pytest.raises(ValueError, match="quality"):
        encode_jpeg(np.zeros((4, 4, 3), np.uint8), 0)
