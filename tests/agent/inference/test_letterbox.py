"""Letterbox geometry, pixels and frame checks (no network)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from aios.agent.errors import InputError
from aios.agent.inference.letterbox import Letterboxer, LetterboxGeometry, as_bgr_uint8

GREY = np.float32(114 / 255)


@pytest.mark.parametrize(
    ("src_hw", "new_hw", "top", "left"),
    [
        ((1080, 810), (640, 480), 0, 80),  # portrait photo (bus.jpg)
        ((720, 1280), (360, 640), 140, 0),  # landscape 16:9
        ((640, 640), (640, 640), 0, 0),  # already the input size
        ((480, 641), (479, 640), 80, 0),  # odd: 80 px above, 81 below
        ((333, 777), (274, 640), 183, 0),
        ((101, 99), (640, 627), 0, 6),  # tiny odd portrait, scaled up
        ((1, 1), (640, 640), 0, 0),  # a single pixel fills the input
        ((1, 3000), (1, 640), 319, 0),  # a line: height never rounds to zero
        ((3000, 1), (640, 1), 0, 319),
    ],
)
def test_geometry_matches_ultralytics(
    src_hw: tuple[int, int], new_hw: tuple[int, int], top: int, left: int
) -> None:
    geo = LetterboxGeometry.compute(*src_hw, 640, 640)
    assert (geo.new_h, geo.new_w, geo.top, geo.left) == (*new_hw, top, left)


@pytest.mark.parametrize(
    ("src_hw", "net_box", "src_box"),
    [
        ((1080, 810), [80, 0, 560, 640], [0, 0, 810, 1080]),  # the whole content area
        ((1080, 810), [320, 320, 320, 320], [405, 540, 405, 540]),  # the centre
        ((720, 1280), [0, 140, 640, 500], [0, 0, 1280, 720]),
        ((720, 1280), [-50, 100, 700, 600], [0, 0, 1280, 720]),  # clipped to the frame
        ((1, 1), [0, 0, 320, 320], [0, 0, 0.5, 0.5]),
    ],
)
def test_boxes_map_back_to_source_pixels(
    src_hw: tuple[int, int], net_box: list[float], src_box: list[float]
) -> None:
    geo = LetterboxGeometry.compute(*src_hw, 640, 640)
    boxes = np.array([net_box], np.float32)
    np.testing.assert_allclose(geo.to_source(boxes)[0], src_box, atol=1e-3)


def test_letterbox_writes_rgb_scaled_content_and_grey_border() -> None:
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[..., 0] = 255  # pure blue in BGR
    boxer = Letterboxer(640, 640)
    boxer(frame)
    t = boxer.tensor[0]
    assert t[:, :140].min() == t[:, :140].max() == GREY  # top border
    assert t[:, 500:].min() == t[:, 500:].max() == GREY  # bottom border
    content = t[:, 140:500]
    np.testing.assert_array_equal(content[2], 1.0)  # blue is the last RGB channel
    np.testing.assert_array_equal(content[:2], 0.0)


def test_border_is_repainted_when_the_geometry_changes() -> None:
    boxer = Letterboxer(640, 640)
    boxer(np.zeros((720, 1280, 3), np.uint8))  # content rows 140..500
    boxer(np.zeros((1280, 720, 3), np.uint8))  # now content columns 140..500
    t = boxer.tensor[0]
    assert t[:, :140, :140].min() == GREY  # was black content, now border
    assert t[:, 300, 300].max() == 0.0


def test_letterbox_matches_reference_arithmetic() -> None:
    """Same pixels as cv2.resize + copyMakeBorder + BGR->RGB + /255 (Ultralytics' path)."""
    import cv2

    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (333, 777, 3), dtype=np.uint8)
    boxer = Letterboxer(640, 640)
    boxer(frame)
    resized = cv2.resize(frame, (640, 274), interpolation=cv2.INTER_LINEAR)
    ref = cv2.copyMakeBorder(resized, 183, 183, 0, 0, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    expected = ref[..., ::-1].transpose(2, 0, 1).astype(np.float32) / 255
    np.testing.assert_allclose(boxer.tensor[0], expected, atol=1e-6)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (np.zeros((0, 10, 3), np.uint8), "empty frame"),
        (np.zeros((10, 10, 3), np.float32), "expected uint8"),
        (np.zeros((10, 10, 3), np.int8), "expected uint8"),
        (np.zeros((10, 10, 5), np.uint8), "got shape (10, 10, 5)"),
        (np.zeros((2, 10, 10, 3), np.uint8), "got shape (2, 10, 10, 3)"),
        (np.zeros(10, np.uint8), "got shape (10,)"),
        ([[0, 0, 0]], "must be a numpy array"),
    ],
)
def test_unusable_frames_raise_input_error(frame: object, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        as_bgr_uint8(frame)


@pytest.mark.parametrize(
    ("frame", "pixel"),
    [
        (np.full((4, 6), 200, np.uint8), [200, 200, 200]),  # grayscale
        (np.full((4, 6, 1), 200, np.uint8), [200, 200, 200]),  # grayscale with a channel axis
        (np.full((4, 6, 4), [1, 2, 3, 9], np.uint8), [1, 2, 3]),  # BGRA: alpha dropped
        (np.full((4, 6, 3), [65535, 256, 0], np.uint16), [255, 1, 0]),  # 16-bit scaled to 8
        (np.full((4, 12, 3), 7, np.uint8)[:, ::2], [7, 7, 7]),  # non-contiguous view
    ],
)
def test_accepted_frames_become_contiguous_bgr_uint8(
    frame: npt.NDArray[np.generic], pixel: list[int]
) -> None:
    out = as_bgr_uint8(frame)
    assert out.shape == (4, 6, 3)
    assert out.dtype == np.uint8
    assert out.flags.c_contiguous
    assert out[2, 3].tolist() == pixel
