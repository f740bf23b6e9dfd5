"""What flows along a pipeline edge: one frame of one stream and what is known about it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from aios.agent.analytics.rules import RuleEvent
from aios.agent.detections import Detections
from aios.agent.sources.frame import Frame


@dataclass(frozen=True, slots=True)
class Packet:
    """``detections`` are in frame pixels; ``names`` are the class labels of the model that
    produced them. A line node adds its per-detection crossings, a rule node its events."""

    stream_id: str
    frame: Frame
    detections: Detections
    names: Sequence[str] = ()
    crossed_in: npt.NDArray[np.bool_] | None = None
    crossed_out: npt.NDArray[np.bool_] | None = None
    zone_id: str | None = None
    line_id: str | None = None
    events: tuple[RuleEvent, ...] = ()

    def with_detections(self, detections: Detections) -> Packet:
        return replace(self, detections=detections, crossed_in=None, crossed_out=None)
