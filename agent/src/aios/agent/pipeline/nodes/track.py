"""``track``: ByteTrack ids on the detections, one tracker per stream.

Tracks keep their class (association within a class, or within one of ``class_groups``,
whose labels are resolved to the detector's class ids when the node is built).

A detect node may serve several cameras, so a track node keeps one :class:`ByteTracker` per
``stream_id``: ids never mix across cameras, and each camera's ids start at 1.

Each tracker is told the rate at which frames actually reach it, so that its lost-track buffer
(``lost_buffer_frames`` at 30 fps, i.e. ``lost_buffer_frames / 30`` seconds) covers the intended
time: the rate starts at what the upstream frame policy lets through (30 fps / ``every_n``,
capped by ``target_fps``) and then follows the measured interval between frames, which also
accounts for a detector slower than the camera.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from aios.agent.analytics.classes import resolve_class_ids
from aios.agent.analytics.tracker import ByteTracker
from aios.agent.pipeline.frame_rate import FrameRateEstimate
from aios.agent.pipeline.node import BuildContext, Lifecycle, RuntimeNode, first_names
from aios.agent.pipeline.nodes.detect import NOMINAL_SOURCE_FPS, DetectRuntime
from aios.agent.pipeline.packet import Packet
from aios.agent.pipeline.per_stream import PerStream
from aios.shared.pipeline import TrackNode

_RATE_TOLERANCE = 0.1
"""Relative change of the measured rate that re-tunes a tracker's lost buffer."""


@dataclass(slots=True)
class _StreamTracker:
    tracker: ByteTracker
    rate: FrameRateEstimate


class TrackRuntime(Lifecycle):
    kind: ClassVar[str] = "track"

    def __init__(
        self, spec: TrackNode, names: Sequence[str], nominal_fps: float = NOMINAL_SOURCE_FPS
    ) -> None:
        self._spec = spec
        self.names = names
        self.nominal_fps = nominal_fps
        self._streams = PerStream(self._new_stream)
        label_to_id = {name: i for i, name in enumerate(names)}
        self._class_groups = [
            resolve_class_ids(group, label_to_id, where=f"track {spec.id!r}: class_groups")
            or frozenset()
            for group in spec.params.class_groups or ()
        ]

    @classmethod
    def build(
        cls, spec: TrackNode, ctx: BuildContext, upstream: Sequence[RuntimeNode]
    ) -> TrackRuntime:
        detect = next((n for n in upstream if isinstance(n, DetectRuntime)), None)
        nominal = NOMINAL_SOURCE_FPS if detect is None else detect.nominal_fps()
        return cls(spec, first_names(upstream), nominal)

    @property
    def node_id(self) -> str:
        return self._spec.id

    @property
    def lost_buffer_s(self) -> float:
        """How long a lost track keeps its id, in seconds."""
        return self._spec.params.lost_buffer_frames / 30.0

    def tracker(self, stream_id: str) -> ByteTracker:
        """The tracker of one stream (created on its first frame)."""
        return self._streams.get(stream_id).tracker

    def _new_stream(self) -> _StreamTracker:
        return _StreamTracker(
            ByteTracker(
                self._spec.params, frame_rate=self.nominal_fps, class_groups=self._class_groups
            ),
            FrameRateEstimate(self.nominal_fps),
        )

    async def start(self) -> None:
        self._streams.clear()

    async def process(self, inputs: Sequence[Packet]) -> Packet | None:
        packet = inputs[0]
        state = self._streams.get(packet.stream_id)
        fps = state.rate.add(packet.frame.ts)
        tracker = state.tracker
        if abs(fps - tracker.frame_rate) > _RATE_TOLERANCE * tracker.frame_rate:
            tracker.set_frame_rate(fps)
        return packet.with_detections(tracker.update(packet.detections))
