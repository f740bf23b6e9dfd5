"""Directed line crossings: counting tracked objects that cross a segment, in and out.

The segment ``start -> end`` is normalized to ``[0, 1]`` of the frame and scaled to the frame
size given to :meth:`LineZone.trigger`; the geometry runs in pixels. Each track's anchor (the
bottom-center of its box) is followed from frame to frame:

- **in** is a crossing from the left-hand side to the right-hand side of ``start -> end`` as
  drawn on screen (image coordinates, y down). For a line drawn from left to right, "in" is
  moving downwards; for a line drawn top to bottom, "in" is moving right to left.
  **out** is the opposite crossing.
- only a crossing within the segment counts: the anchor's move between the two frames must
  cut the segment itself, not its extension (an object walking around an end does not count);
- only tracked detections (``tracker_id != NO_TRACK``) of the line's classes count;
- a track's side is remembered while it is away (occlusion, lost frames) and forgotten after
  ``forget_after`` calls without it; an anchor exactly on the line keeps the previous side.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from aios.agent.analytics.classes import class_mask
from aios.agent.analytics.geometry import segment_crossing_param, side_of_line
from aios.agent.detections import NO_TRACK, Detections
from aios.shared.pipeline.nodes import LineParams

BoolArray = npt.NDArray[np.bool_]


class LineZone:
    """A directed, normalized segment that counts crossings per direction."""

    def __init__(
        self,
        start: tuple[float, float],
        end: tuple[float, float],
        *,
        class_ids: frozenset[int] | None = None,
        forget_after: int = 300,
    ) -> None:
        self.start = np.asarray(start, dtype=np.float64).reshape(2)
        self.end = np.asarray(end, dtype=np.float64).reshape(2)
        if np.array_equal(self.start, self.end):
            raise ValueError(f"line start and end must differ, both are {tuple(start)}")
        if forget_after < 1:
            raise ValueError(f"forget_after must be at least 1, got {forget_after}")
        self.class_ids = class_ids
        self.forget_after = forget_after
        self.in_count = 0
        self.out_count = 0
        self._calls = 0
        # track id -> (side +1/-1, last anchor in pixels, call number last seen)
        self._memory: dict[int, tuple[int, npt.NDArray[np.float64], int]] = {}

    @classmethod
    def from_params(cls, params: LineParams, class_ids: frozenset[int] | None) -> LineZone:
        """From a pipeline node's params; ``class_ids`` resolved from ``params.classes``."""
        return cls(params.start, params.end, class_ids=class_ids)

    def segment_px(
        self, frame_wh: tuple[int, int]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        scale = np.asarray(frame_wh, dtype=np.float64)
        return self.start * scale, self.end * scale

    def reset(self) -> None:
        self.in_count = 0
        self.out_count = 0
        self._memory.clear()

    def trigger(
        self, detections: Detections, frame_wh: tuple[int, int]
    ) -> tuple[BoolArray, BoolArray]:
        """``(crossed_in, crossed_out)`` per detection for this frame; updates the counts."""
        self._calls += 1
        n = len(detections)
        crossed_in = np.zeros(n, np.bool_)
        crossed_out = np.zeros(n, np.bool_)
        start, end = self.segment_px(frame_wh)
        anchors = detections.anchors().astype(np.float64)
        sides = side_of_line(anchors, start, end)
        eligible = (detections.tracker_id != NO_TRACK) & class_mask(
            detections.class_id, self.class_ids
        )
        for i in np.nonzero(eligible)[0]:
            track_id = int(detections.tracker_id[i])
            side = int(sides[i])
            previous = self._memory.get(track_id)
            if side == 0:
                if previous is not None:
                    self._memory[track_id] = (previous[0], previous[1], self._calls)
                continue
            if previous is not None and previous[0] != side:
                t = segment_crossing_param(previous[1][None, :], anchors[i : i + 1], start, end)[0]
                if 0.0 <= t <= 1.0:
                    if side > 0:
                        crossed_in[i] = True
                        self.in_count += 1
                    else:
                        crossed_out[i] = True
                        self.out_count += 1
            self._memory[track_id] = (side, anchors[i].copy(), self._calls)
        self._forget()
        return crossed_in, crossed_out

    def _forget(self) -> None:
        stale = [k for k, v in self._memory.items() if self._calls - v[2] > self.forget_after]
        for key in stale:
            del self._memory[key]
