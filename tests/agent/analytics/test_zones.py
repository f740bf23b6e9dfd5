"""Polygon zones: anchors inside/outside convex and concave polygons, classes, any resolution."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aios.agent.analytics.geometry import points_in_polygon
from aios.agent.analytics.zones import PolygonZone
from aios.agent.detections import Detections
from aios.shared.pipeline.nodes import ZoneParams

SQUARE = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]
# A "U": the notch between x 0.4-0.6 above y 0.6 is outside.
U_SHAPE = [
    (0.2, 0.2),
    (0.4, 0.2),
    (0.4, 0.6),
    (0.6, 0.6),
    (0.6, 0.2),
    (0.8, 0.2),
    (0.8, 0.8),
    (0.2, 0.8),
]


def standing_at(
    points: list[tuple[float, float]], wh: tuple[int, int], classes: list[int] | None = None
) -> Detections:
    """Detections whose bottom-center anchor is at each normalized point."""
    w, h = wh
    boxes = [[x * w - 10, y * h - 40, x * w + 10, y * h] for x, y in points]
    return Detections.from_arrays(boxes, [0.9] * len(points), classes or [0] * len(points))


@pytest.mark.parametrize(
    ("polygon", "mode", "points", "expected"),
    [
        (
            SQUARE,
            "inside",
            [(0.5, 0.5), (0.1, 0.5), (0.5, 0.9), (0.74, 0.26)],
            [True, False, False, True],
        ),
        (SQUARE, "outside", [(0.5, 0.5), (0.1, 0.5), (0.5, 0.9)], [False, True, True]),
        (
            U_SHAPE,
            "inside",
            [(0.3, 0.3), (0.5, 0.3), (0.5, 0.7), (0.7, 0.3), (0.9, 0.5)],
            [True, False, True, True, False],
        ),
        # A triangle: a point beside the slanted edge is outside.
        ([(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)], "inside", [(0.2, 0.2), (0.6, 0.6)], [True, False]),
    ],
)
def test_zone_selects_detections_by_anchor(
    polygon: list[tuple[float, float]],
    mode: str,
    points: list[tuple[float, float]],
    expected: list[bool],
) -> None:
    zone = PolygonZone(polygon, mode="inside" if mode == "inside" else "outside")
    mask = zone.trigger(standing_at(points, (640, 480)), (640, 480))
    assert mask.tolist() == expected
    assert zone.current_count == sum(expected)


@pytest.mark.parametrize("wh", [(640, 480), (1920, 1080), (333, 777)])
def test_zone_is_resolution_independent(wh: tuple[int, int]) -> None:
    zone = PolygonZone(U_SHAPE)
    points = [(0.3, 0.3), (0.5, 0.3), (0.5, 0.7)]
    assert zone.trigger(standing_at(points, wh), wh).tolist() == [True, False, True]


def test_zone_uses_the_bottom_center_not_the_box_center() -> None:
    zone = PolygonZone(SQUARE)
    # Box centered inside the square, but its feet are below it.
    det = Detections.from_arrays([[300, 200, 340, 400]], [0.9], [0])
    assert zone.trigger(det, (640, 480)).tolist() == [False]


@pytest.mark.parametrize(
    ("class_ids", "expected"),
    [
        (None, [True, True, True]),
        (frozenset({2}), [False, True, False]),
        (frozenset({0, 7}), [True, False, True]),
    ],
)
def test_zone_classes(class_ids: frozenset[int] | None, expected: list[bool]) -> None:
    zone = PolygonZone(SQUARE, class_ids=class_ids)
    det = standing_at([(0.5, 0.5)] * 3, (640, 480), [0, 2, 7])
    assert zone.trigger(det, (640, 480)).tolist() == expected


def test_zone_from_params_and_empty_detections() -> None:
    zone = PolygonZone.from_params(ZoneParams(polygon=SQUARE, mode="outside"), None)
    assert zone.mode == "outside"
    assert zone.trigger(Detections.empty(), (640, 480)).shape == (0,)
    assert zone.current_count == 0


@pytest.mark.parametrize("polygon", [[(0.0, 0.0), (1.0, 1.0)], []])
def test_zone_needs_three_points(polygon: list[tuple[float, float]]) -> None:
    with pytest.raises(ValueError, match="at least 3"):
        PolygonZone(polygon)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_point_in_polygon_agrees_with_opencv(seed: int) -> None:
    """A random star-shaped (concave) polygon against cv2.pointPolygonTest on random points."""
    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, 2 * np.pi, 12))
    radii = rng.uniform(50, 200, 12)
    polygon = np.stack([300 + radii * np.cos(angles), 300 + radii * np.sin(angles)], axis=1)
    points = rng.uniform(50, 550, (2000, 2))
    ours = points_in_polygon(points, polygon)
    contour = polygon.astype(np.float32).reshape(-1, 1, 2)
    distance = np.array(
        [cv2.pointPolygonTest(contour, (float(x), float(y)), True) for x, y in points]
    )
    clear = np.abs(distance) > 1e-3  # points on an edge may fall either way
    assert np.array_equal(ours[clear], distance[clear] > 0)
    assert 0 < ours.sum() < len(points)
