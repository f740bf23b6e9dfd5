"""A captured frame and where it came from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Frame:
    """One BGR uint8 image (H, W, 3); ``ts`` is its capture time (Unix seconds), ``index`` its
    position in the stream (counting frames dropped by the one-slot buffer)."""

    image: npt.NDArray[np.uint8]
    ts: float
    index: int

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])
