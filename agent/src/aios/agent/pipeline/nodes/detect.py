"""``detect``: YOLOv8 on the frames the frame policy picks, in a worker thread.

Inference runs in a one-thread executor owned by the node, so the event loop is never
blocked; frames the policy skips stop here (nothing flows downstream for them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

from aios.agent.errors import ConfigError
from aios.agent.inference import Detector, FramePolicy, resolve_model
from aios.agent.pipeline.node import BuildContext, RuntimeNode
from aios.agent.pipeline.packet import Packet
from aios.shared.pipeline import DetectNode, Node


def model_file(spec: DetectNode, ctx: BuildContext) -> Path:
    """The config's ``model_path`` override, else the node's ``model`` (a path relative to the
    config file, or a manifest name resolved by the model store)."""
    if ctx.model_path is not None:
        return ctx.model_path
    model = spec.params.model
    if model.endswith(".onnx") or "/" in model:
        candidate = Path(model).expanduser()
        if not candidate.is_absolute():
            candidate = ctx.base_dir / candidate
        model = str(candidate)
    return resolve_model(model, progress=False)


class DetectRuntime:
    kind: ClassVar[str] = "detect"

    def __init__(
        self, spec: DetectNode, detector: Detector, policy: FramePolicy, ctx: BuildContext
    ) -> None:
        self._spec = spec
        self._detector = detector
        self._policy = policy
        self._metrics = ctx.metrics
        self._executor: ThreadPoolExecutor | None = None
        self.names: Sequence[str] = tuple(detector.names)

    @classmethod
    def build(cls, spec: Node, ctx: BuildContext, upstream: Sequence[RuntimeNode]) -> DetectRuntime:
        if not isinstance(spec, DetectNode):
            raise ConfigError(f"node {spec.id!r} is not a detect node")
        detector = Detector.from_params(
            spec.params, model_file(spec, ctx), intra_op_threads=ctx.intra_op_threads
        )
        ctx.metrics.provider = detector.provider
        return cls(spec, detector, FramePolicy.from_params(spec.params), ctx)

    @property
    def node_id(self) -> str:
        return self._spec.id

    @property
    def detector(self) -> Detector:
        return self._detector

    async def start(self) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"infer-{self.node_id}"
        )

    async def process(self, inputs: Sequence[Packet]) -> Packet | None:
        packet = inputs[0]
        if not self._policy.should_infer(packet.frame.image, packet.frame.ts):
            return None
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        detections = await loop.run_in_executor(
            self._executor, self._detector.detect, packet.frame.image
        )
        self._metrics.inference_ms.add((time.perf_counter() - started) * 1000.0)
        self._metrics.frames_processed += 1
        return Packet(
            stream_id=packet.stream_id, frame=packet.frame, detections=detections, names=self.names
        )

    async def stop(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
