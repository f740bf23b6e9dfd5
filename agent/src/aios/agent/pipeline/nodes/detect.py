"""``detect``: YOLOv8 on the frames the frame policy picks, in a worker thread.

Inference runs in a one-thread executor owned by the node, so the event loop is never
blocked; frames the policy skips stop here (nothing flows downstream for them).

One detect node may take several sources: they share its model session. Each stream's task
awaits its own inference, and the executor serves requests in arrival order, so with
latest-frame capture the streams take turns (none starves) and the session stays busy while
any stream has a frame waiting. The frame policy (every Nth, target fps, motion) is kept per
stream. :attr:`DetectRuntime.inferences` counts runs per stream and :attr:`DetectRuntime.busy_s`
adds up the time spent inside the detector, for fairness and utilization figures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar

import numpy as np
import numpy.typing as npt

from aios.agent.detections import Detections
from aios.agent.inference import Detector, FramePolicy
from aios.agent.inference.model_store import pipeline_model
from aios.agent.pipeline.node import BuildContext, RuntimeNode, StreamEvent
from aios.agent.pipeline.packet import Packet
from aios.agent.pipeline.per_stream import PerStream
from aios.shared.pipeline import DetectNode


def model_file(spec: DetectNode, ctx: BuildContext) -> Path:
    """The file of the node's ``model`` (:func:`~aios.agent.inference.model_store.pipeline_model`:
    the pipeline is the truth unless the operator set ``model_override``)."""
    return pipeline_model(
        spec.params.model,
        base_dir=ctx.base_dir,
        model_path=ctx.model_path,
        override=ctx.model_override,
        env=ctx.environment,
    )


T = TypeVar("T")

NOMINAL_SOURCE_FPS = 30.0
"""The source rate assumed before frames are seen (cameras rarely run faster)."""


@dataclass(slots=True)
class _StreamState:
    policy: FramePolicy
    inferences: int = 0


class DetectRuntime:
    kind: ClassVar[str] = "detect"

    def __init__(self, spec: DetectNode, detector: Detector, ctx: BuildContext) -> None:
        self._spec = spec
        self._detector = detector
        self._streams = PerStream(lambda: _StreamState(FramePolicy.from_params(spec.params)))
        self._metrics = ctx.metrics
        self._executor: ThreadPoolExecutor | None = None
        self.names: Sequence[str] = tuple(detector.names)
        self.busy_s = 0.0
        """Seconds spent inside the detector (all streams), excluding time queued."""

    @classmethod
    def build(
        cls, spec: DetectNode, ctx: BuildContext, upstream: Sequence[RuntimeNode]
    ) -> DetectRuntime:
        FramePolicy.from_params(spec.params)  # a bad policy fails at build, not on a frame
        detector = Detector.from_params(
            spec.params,
            model_file(spec, ctx),
            intra_op_threads=ctx.intra_op_threads,
            trt_cache=ctx.environment.cache_root / "trt",
        )
        ctx.metrics.provider = detector.provider
        return cls(spec, detector, ctx)

    @property
    def node_id(self) -> str:
        return self._spec.id

    @property
    def detector(self) -> Detector:
        return self._detector

    def nominal_fps(self, source_fps: float = NOMINAL_SOURCE_FPS) -> float:
        """The rate of frames this node lets through for a ``source_fps`` stream, by policy
        alone (a slow detector or motion gating lowers it further)."""
        rate = source_fps / self._spec.params.every_n
        target = self._spec.params.target_fps
        return rate if target is None else min(rate, target)

    def policy(self, stream_id: str) -> FramePolicy:
        """The frame policy of one stream (created on its first frame)."""
        return self._streams.get(stream_id).policy

    @property
    def inferences(self) -> dict[str, int]:
        """Detector runs per stream id."""
        return {stream_id: state.inferences for stream_id, state in self._streams.items()}

    async def start(self) -> None:
        self._streams.clear()
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"infer-{self.node_id}"
        )

    async def run_in_turn(self, work: Callable[[], T]) -> T:
        """Run ``work`` in the inference thread, queued in turn with the streams' frames
        (they wait while it runs): for warm-ups and benchmarks that share the session."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    def _timed_detect(self, image: npt.NDArray[np.uint8]) -> tuple[Detections, float]:
        started = time.perf_counter()
        detections = self._detector.detect(image)
        return detections, time.perf_counter() - started

    async def process(self, inputs: Sequence[Packet]) -> Packet | None:
        packet = inputs[0]
        stream = self._streams.get(packet.stream_id)
        if not stream.policy.should_infer(packet.frame.image, packet.frame.ts):
            return None
        loop = asyncio.get_running_loop()
        queued = time.perf_counter()
        detections, seconds = await loop.run_in_executor(
            self._executor, self._timed_detect, packet.frame.image
        )
        self.busy_s += seconds
        stream.inferences += 1
        self._metrics.record_inference(packet.stream_id, seconds, time.perf_counter() - queued)
        return Packet(
            stream_id=packet.stream_id, frame=packet.frame, detections=detections, names=self.names
        )

    async def stop(self, ending: Sequence[StreamEvent] = ()) -> Sequence[StreamEvent]:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
        return ()
