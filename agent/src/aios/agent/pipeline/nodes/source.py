"""``source``: a camera captured in its own thread; the runner pulls frames from it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from aios.agent.detections import Detections
from aios.agent.pipeline.node import BuildContext, RuntimeNode, StreamEvent
from aios.agent.pipeline.packet import Packet
from aios.agent.sources.capture import CaptureWorker
from aios.agent.sources.registry import CameraOptions
from aios.shared.pipeline import SourceNode


class SourceRuntime:
    kind: ClassVar[str] = "source"
    names: Sequence[str] = ()

    def __init__(self, spec: SourceNode, worker: CaptureWorker) -> None:
        self._spec = spec
        self.worker = worker

    @classmethod
    def build(
        cls, spec: SourceNode, ctx: BuildContext, upstream: Sequence[RuntimeNode]
    ) -> SourceRuntime:
        options = CameraOptions(base_dir=ctx.base_dir, file_realtime=ctx.file_realtime)
        camera = ctx.cameras.create(spec.params, options)
        worker = CaptureWorker(spec.id, camera)
        ctx.metrics.streams[spec.id] = worker.status
        return cls(spec, worker)

    @property
    def node_id(self) -> str:
        return self._spec.id

    async def start(self) -> None:
        self.worker.start()

    async def next_packet(self) -> Packet | None:
        frame = await self.worker.next_frame()
        if frame is None:
            return None
        return Packet(stream_id=self._spec.id, frame=frame, detections=Detections.empty())

    async def process(self, inputs: Sequence[Packet]) -> Packet | None:
        return inputs[0] if inputs else None

    async def stop(self, ending: Sequence[StreamEvent] = ()) -> Sequence[StreamEvent]:
        await self.worker.stop()
        return ()
