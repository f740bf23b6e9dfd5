"""Vectorized plane geometry in image coordinates (x right, y down)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def points_in_polygon(
    points: npt.NDArray[np.floating], polygon: npt.NDArray[np.floating]
) -> npt.NDArray[np.bool_]:
    """Even-odd ray casting: which of ``(N, 2)`` points lie inside the ``(V, 2)`` polygon.

    Works for concave and self-intersecting polygons (even-odd rule). A point exactly on an
    edge may fall either way.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if pts.shape[0] == 0 or poly.shape[0] < 3:
        return np.zeros(pts.shape[0], np.bool_)
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    px, py = pts[:, 0:1], pts[:, 1:2]  # (N, 1) against (V,) edges
    straddles = (y0 > py) != (y1 > py)
    dy = np.where(y1 == y0, 1.0, y1 - y0)
    x_cross = x0 + (py - y0) * (x1 - x0) / dy
    crossings = straddles & (px < x_cross)
    result: npt.NDArray[np.bool_] = (np.count_nonzero(crossings, axis=1) % 2) == 1
    return result


def side_of_line(
    points: npt.NDArray[np.floating], start: FloatArray, end: FloatArray
) -> npt.NDArray[np.int8]:
    """Which side of the directed line ``start -> end`` each ``(N, 2)`` point is on.

    ``+1``: the right-hand side when walking from start to end as drawn on screen (y down),
    ``-1``: the left-hand side, ``0``: on the line. For a line drawn left to right, points
    below it are on the right (+1).
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    d = end - start
    cross = d[0] * (pts[:, 1] - start[1]) - d[1] * (pts[:, 0] - start[0])
    sides: npt.NDArray[np.int8] = np.sign(cross).astype(np.int8)
    return sides


def segment_crossing_param(
    p0: FloatArray, p1: FloatArray, start: FloatArray, end: FloatArray
) -> FloatArray:
    """Where the moves ``p0 -> p1`` (``(N, 2)`` each) cross the infinite line through
    ``start -> end``, as a fraction along ``start -> end`` (in ``[0, 1]`` when the crossing
    is within the segment); NaN where a move is parallel to the line."""
    d = end - start
    motion = p1 - p0
    denom = d[0] * motion[:, 1] - d[1] * motion[:, 0]
    rel = p0 - start
    numer = rel[:, 0] * motion[:, 1] - rel[:, 1] * motion[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where(denom != 0.0, numer / np.where(denom == 0.0, 1.0, denom), np.nan)
    return out
