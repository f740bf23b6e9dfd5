"""Polygon zones: which detections stand inside (or outside) an area of the frame.

The polygon is normalized to ``[0, 1]`` of the frame, so one zone fits any resolution; it is
scaled to the frame size given to :meth:`PolygonZone.trigger`. A detection is in the zone when
its anchor, the bottom-center of its box (where an object stands), is inside the polygon
(even-odd rule, so concave polygons work).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from aios.agent.analytics.classes import class_mask
from aios.agent.analytics.geometry import points_in_polygon
from aios.agent.detections import Detections
from aios.shared.pipeline.nodes import ZoneMode, ZoneParams


class PolygonZone:
    """A normalized polygon that selects detections by where they stand.

    ``mode="outside"`` selects the detections whose anchor is *not* in the polygon.
    ``class_ids`` (``None``: all) restricts which classes can trigger the zone.
    """

    def __init__(
        self,
        polygon: Sequence[tuple[float, float]],
        *,
        mode: ZoneMode = "inside",
        class_ids: frozenset[int] | None = None,
    ) -> None:
        points = np.asarray(polygon, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < 3:
            raise ValueError(f"polygon needs at least 3 (x, y) points, got shape {points.shape}")
        self.polygon: npt.NDArray[np.float64] = points
        self.mode: ZoneMode = mode
        self.class_ids = class_ids
        self.current_count = 0

    @classmethod
    def from_params(cls, params: ZoneParams, class_ids: frozenset[int] | None) -> PolygonZone:
        """From a pipeline node's params; ``class_ids`` resolved from ``params.classes``."""
        return cls(params.polygon, mode=params.mode, class_ids=class_ids)

    def polygon_px(self, frame_wh: tuple[int, int]) -> npt.NDArray[np.float64]:
        """The polygon in pixels of a ``(width, height)`` frame."""
        return self.polygon * np.asarray(frame_wh, dtype=np.float64)

    def selects(self, detections: Detections, frame_wh: tuple[int, int]) -> npt.NDArray[np.bool_]:
        """Which detections the zone selects, without touching :attr:`current_count`."""
        inside = points_in_polygon(detections.anchors(), self.polygon_px(frame_wh))
        selected = inside if self.mode == "inside" else ~inside
        mask: npt.NDArray[np.bool_] = selected & class_mask(detections.class_id, self.class_ids)
        return mask

    def trigger(self, detections: Detections, frame_wh: tuple[int, int]) -> npt.NDArray[np.bool_]:
        """Which detections the zone selects; sets :attr:`current_count` to their number."""
        mask = self.selects(detections, frame_wh)
        self.current_count = int(np.count_nonzero(mask))
        return mask
