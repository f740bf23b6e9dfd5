"""Builds the runtime graph from a :class:`PipelineSpec` and drives frames through it.

Nodes are built in topological order (off the event loop: building loads models), started
consumers-first, and then one task per source pulls the newest frame and runs it through the
nodes reachable from that source, in topological order. A node's inputs for a frame are the
packets its input nodes produced for that frame; a node whose inputs produced nothing (a frame
the detector skipped) is skipped too. Nodes stop in topological order, each given what its
inputs said as they stopped (the ends of a rule's open episodes reach its events sink).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from structlog.contextvars import bind_contextvars

from aios.agent.errors import AgentError
from aios.agent.pipeline.node import BuildContext, RuntimeNode, StreamEvent
from aios.agent.pipeline.nodes.sink import DetectionSinkRuntime
from aios.agent.pipeline.nodes.source import SourceRuntime
from aios.agent.pipeline.nodes.zone import ZoneRuntime
from aios.agent.pipeline.packet import Packet
from aios.agent.pipeline.registry import NodeRegistry
from aios.agent.sources.capture import wait_streams_open
from aios.shared.pipeline import PipelineSpec

log = logging.getLogger(__name__)


class PipelineRunner:
    def __init__(self, spec: PipelineSpec, ctx: BuildContext, registry: NodeRegistry) -> None:
        self.spec = spec
        self.ctx = ctx
        self._registry = registry
        self._order = spec.topological_order()
        self._nodes: dict[str, RuntimeNode] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._started: list[RuntimeNode] = []

    @property
    def version(self) -> int:
        return self.ctx.pipeline_version

    @property
    def nodes(self) -> dict[str, RuntimeNode]:
        return self._nodes

    def build(self) -> None:
        """Create every node (blocking: call it in a thread). Raises :class:`AgentError`s."""
        for node_id in self._order:
            spec = self.spec.node(node_id)
            upstream = [self._nodes[i] for i in self.spec.inputs(node_id)]
            self._nodes[node_id] = self._registry.build(spec, self.ctx, upstream)
        self._tag_zones()

    def _tag_zones(self) -> None:
        """Tell each detections sink which zone nodes each of its streams passes through, so
        the detections it sends carry the zones they stand in (wherever the sink is wired)."""
        sources = [s.node_id for s in self._sources()]
        reach = {s: set(self._reachable(s)) for s in sources}
        for node_id, node in self._nodes.items():
            if isinstance(node, DetectionSinkRuntime):
                node.tag_zones(
                    {
                        s: tuple(
                            z
                            for z in self._nodes.values()
                            if isinstance(z, ZoneRuntime) and z.node_id in reach[s]
                        )
                        for s in sources
                        if node_id in reach[s]
                    }
                )

    async def start(self, *, open_timeout_s: float = 15.0) -> None:
        """Start nodes (sinks first), then wait for the cameras to open (every file, and the
        live cameras that answer: see :func:`wait_streams_open`). On failure, what was started
        is stopped again and the error (naming the node) is raised."""
        if not self._nodes:
            await asyncio.to_thread(self.build)
        sources = self._sources()
        try:
            for node_id in reversed(self._order):
                node = self._nodes[node_id]
                await node.start()
                self._started.append(node)
            left_behind = await wait_streams_open([s.worker for s in sources], open_timeout_s)
        except BaseException:
            await self.stop()
            raise
        for message in left_behind:
            log.warning("%s; running without it while it keeps retrying", message)
        self._tasks = [
            asyncio.create_task(self._drive(s), name=f"stream-{s.node_id}") for s in sources
        ]

    def _sources(self) -> list[SourceRuntime]:
        return [n for n in self._nodes.values() if isinstance(n, SourceRuntime)]

    def _reachable(self, source_id: str) -> list[str]:
        seen = {source_id}
        stack = [source_id]
        while stack:
            for nxt in self.spec.outputs(stack.pop()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return [n for n in self._order if n in seen and n != source_id]

    async def _drive(self, source: SourceRuntime) -> None:
        bind_contextvars(stream=source.node_id)  # this task's log lines name its stream
        order = self._reachable(source.node_id)
        inputs = {node_id: self.spec.inputs(node_id) for node_id in order}
        while True:
            packet = await source.next_packet()
            if packet is None:
                log.info("stream %s ended", source.node_id)
                return
            produced: dict[str, Packet] = {source.node_id: packet}
            for node_id in order:
                ins: Sequence[Packet] = [produced[i] for i in inputs[node_id] if i in produced]
                if not ins:
                    continue
                out = await self._nodes[node_id].process(ins)
                if out is not None:
                    produced[node_id] = out

    async def wait(self) -> None:
        """Until every stream has ended; re-raises the first node failure."""
        if not self._tasks:
            return
        done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        await asyncio.gather(*self._tasks)

    def failure(self) -> BaseException | None:
        """The error of a stream task that crashed, if any."""
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                return task.exception()
        return None

    async def stop(self) -> None:
        """Stop streams, then nodes in topological order (so sinks flush last), each given
        what its inputs said as they stopped."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        started = set(map(id, self._started))
        said: dict[str, Sequence[StreamEvent]] = {}
        for node_id in self._order:
            node = self._nodes.get(node_id)
            if node is None or id(node) not in started:
                continue
            heard = [event for i in self.spec.inputs(node_id) for event in said.get(i, ())]
            try:
                said[node_id] = await node.stop(heard)
            except (AgentError, OSError) as exc:
                log.warning("node %s did not stop cleanly: %s", node_id, exc)
        self._started = []
