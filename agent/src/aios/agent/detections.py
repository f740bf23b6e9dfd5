"""The detections of one frame: parallel numpy arrays, validated, filtered by mask.

Boxes are ``xyxy`` in pixels of the source frame. Model-specific decoding lives beside the
model (:mod:`aios.agent.inference`), not here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

NO_TRACK = -1


@dataclass(frozen=True, slots=True)
class Detections:
    """``xyxy`` (N, 4) float32, ``confidence`` (N,) float32, ``class_id`` (N,) int32,
    ``tracker_id`` (N,) int64 with :data:`NO_TRACK` where an object is not tracked."""

    xyxy: npt.NDArray[np.float32]
    confidence: npt.NDArray[np.float32]
    class_id: npt.NDArray[np.int32]
    tracker_id: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        n = self.xyxy.shape[0] if self.xyxy.ndim == 2 else -1
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must have shape (N, 4), got {self.xyxy.shape}")
        for name in ("confidence", "class_id", "tracker_id"):
            arr = getattr(self, name)
            if arr.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
        if self.xyxy.dtype != np.float32 or self.confidence.dtype != np.float32:
            raise ValueError("xyxy and confidence must be float32")
        if self.class_id.dtype != np.int32 or self.tracker_id.dtype != np.int64:
            raise ValueError("class_id must be int32 and tracker_id int64")

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            xyxy=np.zeros((0, 4), np.float32),
            confidence=np.zeros(0, np.float32),
            class_id=np.zeros(0, np.int32),
            tracker_id=np.zeros(0, np.int64),
        )

    @classmethod
    def from_arrays(
        cls,
        xyxy: npt.ArrayLike,
        confidence: npt.ArrayLike,
        class_id: npt.ArrayLike,
        tracker_id: npt.ArrayLike | None = None,
    ) -> Detections:
        """Build from any array-likes, converting dtypes (``tracker_id`` defaults to none)."""
        boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
        n = boxes.shape[0]
        tracks = (
            np.full(n, NO_TRACK, np.int64)
            if tracker_id is None
            else np.asarray(tracker_id, dtype=np.int64).reshape(-1)
        )
        return cls(
            xyxy=boxes,
            confidence=np.asarray(confidence, dtype=np.float32).reshape(-1),
            class_id=np.asarray(class_id, dtype=np.int32).reshape(-1),
            tracker_id=tracks,
        )

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def filter(self, mask: npt.NDArray[np.bool_]) -> Detections:
        """A new instance holding the rows where ``mask`` is true."""
        if mask.dtype != np.bool_ or mask.shape != (len(self),):
            raise ValueError(
                f"mask must be bool of shape ({len(self)},), got {mask.dtype} {mask.shape}"
            )
        return Detections(
            xyxy=self.xyxy[mask],
            confidence=self.confidence[mask],
            class_id=self.class_id[mask],
            tracker_id=self.tracker_id[mask],
        )

    def with_tracker_ids(self, tracker_id: npt.NDArray[np.int64]) -> Detections:
        return Detections(
            xyxy=self.xyxy,
            confidence=self.confidence,
            class_id=self.class_id,
            tracker_id=tracker_id,
        )

    def anchors(self) -> npt.NDArray[np.float32]:
        """Bottom-center point of each box (N, 2): where an object stands, for zones and lines."""
        out = np.empty((len(self), 2), np.float32)
        out[:, 0] = (self.xyxy[:, 0] + self.xyxy[:, 2]) * 0.5
        out[:, 1] = self.xyxy[:, 3]
        return out
