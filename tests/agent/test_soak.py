"""An agent runs for months: its memory must not grow with time, frames, track ids, uploads,
configs, or streams coming and going.

Each test runs a long-lived part of the agent for a warm-up, weighs everything reachable from
it (every list, dict, set, array and number it holds, however deep), runs it many times longer
(a fast-forwarded clock: frame times are made up, nothing sleeps), weighs it again, and asserts
that it did not grow beyond a small allowance: a collection that only grows in a long-running
loop fails, whoever holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import time
import types
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from aios.agent.analytics.rules import RuleEvent, RuleInput, build_rule
from aios.agent.analytics.tracker import ByteTracker
from aios.agent.detections import NO_TRACK, Detections
from aios.agent.pipeline.last_good import LastGoodStore
from aios.agent.pipeline.node import BuildContext, Lifecycle, RuntimeNode, StreamEvent
from aios.agent.pipeline.nodes.track import TrackRuntime
from aios.agent.pipeline.packet import Packet
from aios.agent.pipeline.registry import NodeRegistry, default_registry
from aios.agent.pipeline.runner import PipelineRunner
from aios.agent.pipeline.supervisor import MAX_QUEUED_CONFIGS, PipelineSupervisor
from aios.agent.sources.camera import Camera
from aios.agent.sources.frame import Frame
from aios.agent.sources.registry import CameraOptions, CameraRegistry
from aios.agent.sources.synthetic import SyntheticCamera
from aios.agent.transport.interface import ConfigHandler, Transport, TransportStats
from aios.agent.transport.memory import MemoryTransport
from aios.agent.transport.snapshot_upload import SnapshotUploader
from aios.shared.codec import decode_message, encode
from aios.shared.messages import MAX_TRACK_IDS, DetectionBatch, Event, Message, PipelineConfig
from aios.shared.pipeline import (
    DetectNode,
    PipelineSpec,
    RuleParams,
    SourceParams,
    decode_pipeline,
)
from aios.shared.topics import Channel
from tests.agent.build_context import build_context
from tests.agent.http_stub import http_stub

NAMES = ("person",)
W, H = 320, 240
IMAGE = np.zeros((H, W, 3), np.uint8)
FPS = 10.0


class CountingTransport:
    """A transport that counts what it is given and keeps nothing (the in-memory fake keeps
    every message, which is what a soak must not measure)."""

    def __init__(self) -> None:
        self.events = 0
        self.batches = 0
        self.reports = 0
        self.ends = 0

    def start(self) -> None:
        return None

    def stop(self, *, flush_timeout_s: float = 2.0) -> None:
        return None

    def send(self, msg: Message) -> None:
        if isinstance(msg, Event):
            self.events += 1
            self.ends += msg.phase == "end"
        elif isinstance(msg, DetectionBatch):
            self.batches += 1
        else:
            self.reports += 1

    def on_config(self, handler: ConfigHandler) -> None:
        return None

    def stats(self) -> TransportStats:
        return TransportStats(
            connected=True,
            spool_depth=0,
            spool_bytes=0,
            dropped_detections=0,
            dropped_events=0,
            published=self.events + self.batches + self.reports,
        )


class KeySnapshots:
    """A snapshot sink that hands out keys and keeps nothing."""

    def __init__(self) -> None:
        self.submitted = 0

    def submit(
        self,
        event_id: str,
        image: np.ndarray,
        detections: Detections,
        *,
        zones: Sequence[object] = (),
        labels: Sequence[str] = (),
    ) -> str:
        self.submitted += 1
        return f"snapshots/d/{event_id}.jpg"


def retained_bytes(root: object) -> int:
    """The bytes of every object reachable from ``root`` (its own state, however deep: lists,
    dicts, sets, arrays, the numbers in them), not counting classes, modules and functions,
    which are shared code rather than state."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, SHARED_KINDS):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


SHARED_KINDS = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)


def state_growth(run: Callable[[int], None], root: object, *, warm_up: int, soak: int) -> int:
    """Bytes held from ``root`` after ``run(soak)`` beyond what was after ``run(warm_up)``."""
    run(warm_up)
    before = retained_bytes(root)
    run(soak)
    return retained_bytes(root) - before


# -- the pipeline nodes: hours of frames, thousands of people ------------------------------------


NEW_PERSON_EVERY = 5
"""Frames between two people entering (one every half second) while a wave lasts."""
CROSSING_FRAMES = 30
"""Frames a person takes to cross the frame (3 s)."""
WAVE_FRAMES = 100
"""People come in waves: they enter during the first half of each 10 s, then the hall empties."""


def crowd(frame_no: int) -> Detections:
    """People walking left to right across the frame, a new one every half second during the
    first 5 s of every 10 s, each in view for 3 s (up to six at a time, then nobody for a few
    seconds, so that occupancy episodes start and end): the detector's boxes of one frame."""
    boxes = []
    newest = frame_no // NEW_PERSON_EVERY
    for person in range(max(0, newest - CROSSING_FRAMES // NEW_PERSON_EVERY), newest + 1):
        entered = person * NEW_PERSON_EVERY
        x = (frame_no - entered) * (W / CROSSING_FRAMES)
        if entered % WAVE_FRAMES < WAVE_FRAMES // 2 and 0 <= x < W:
            y = 40.0 + (person % 6) * 25.0
            boxes.append((x - 20, y, x + 20, y + 60))
    n = len(boxes)
    return Detections(
        xyxy=np.asarray(boxes, np.float32).reshape(n, 4),
        confidence=np.full(n, 0.9, np.float32),
        class_id=np.zeros(n, np.int32),
        tracker_id=np.full(n, NO_TRACK, np.int64),
    )


HALL = {
    "name": "hall",
    "nodes": [
        {"id": "cam", "type": "source", "params": {"kind": "file", "uri": "x.mp4"}},
        {"id": "det", "type": "detect", "params": {"classes": ["person"]}},
        {"id": "trk", "type": "track"},
        {"id": "hall", "type": "zone", "params": {"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}},
        {"id": "door", "type": "line", "params": {"start": [0.5, 0], "end": [0.5, 1]}},
        {
            "id": "busy",
            "type": "rule",
            "params": {"event_type": "busy", "condition": "occupancy", "cooldown_s": 0},
        },
        {
            "id": "linger",
            "type": "rule",
            "params": {"event_type": "linger", "condition": "dwell", "dwell_s": 2, "cooldown_s": 0},
        },
        {
            "id": "through",
            "type": "rule",
            "params": {"event_type": "through", "condition": "line_count", "min_count": 5},
        },
        {"id": "evt", "type": "sink", "params": {"kind": "mqtt_events"}},
        {
            "id": "out",
            "type": "sink",
            "params": {"kind": "mqtt_detections", "max_frames_per_batch": 5},
        },
    ],
    "edges": [
        {"source": source, "target": target}
        for source, target in [
            ("cam", "det"),
            ("det", "trk"),
            ("trk", "hall"),
            ("trk", "door"),
            ("hall", "busy"),
            ("hall", "linger"),
            ("door", "through"),
            ("busy", "evt"),
            ("linger", "evt"),
            ("through", "evt"),
            ("hall", "out"),
        ]
    ],
}


class Graph:
    """The nodes downstream of the detector, built by the registry and driven by hand for two
    streams like the runner drives them (topological order; the detector's output made up)."""

    def __init__(self, transport: CountingTransport, snapshots: KeySnapshots) -> None:
        self.spec = decode_pipeline(HALL)
        ctx = build_context(transport, snapshots=snapshots)
        registry = default_registry()
        self.order = [i for i in self.spec.topological_order() if i not in ("cam", "det")]
        self.nodes: dict[str, RuntimeNode] = {}
        for node_id in self.order:
            upstream = [self.nodes[i] for i in self.spec.inputs(node_id) if i in self.nodes]
            self.nodes[node_id] = registry.build(self.spec.node(node_id), ctx, upstream)
        self.frame_no = 0

    def tracker(self, stream_id: str) -> ByteTracker:
        track = self.nodes["trk"]
        assert isinstance(track, TrackRuntime)
        return track.tracker(stream_id)

    async def start(self) -> None:
        for node_id in reversed(self.order):
            await self.nodes[node_id].start()

    async def frames(self, count: int) -> None:
        for _ in range(count):
            detections = crowd(self.frame_no)
            for stream in ("A", "B"):
                frame = Frame(IMAGE, 1_000_000.0 + self.frame_no / FPS, self.frame_no)
                packet = Packet(stream_id=stream, frame=frame, detections=detections, names=NAMES)
                produced = {"det": packet}
                for node_id in self.order:
                    ins = [produced[i] for i in self.spec.inputs(node_id) if i in produced]
                    out = await self.nodes[node_id].process(ins) if ins else None
                    if out is not None:
                        produced[node_id] = out
            self.frame_no += 1

    async def stop(self) -> list[StreamEvent]:
        """Stop every node like the runner; what the rules said as they stopped."""
        said: dict[str, Sequence[StreamEvent]] = {}
        for node_id in self.order:
            heard = [e for i in self.spec.inputs(node_id) for e in said.get(i, ())]
            said[node_id] = await self.nodes[node_id].stop(heard)
        return [e for i in ("busy", "linger", "through") for e in said[i]]


def test_pipeline_nodes_hold_flat_memory_over_a_long_crowded_run() -> None:
    transport = CountingTransport()
    snapshots = KeySnapshots()
    graph = Graph(transport, snapshots)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(graph.start())
        growth = state_growth(
            lambda n: loop.run_until_complete(graph.frames(n)), graph, warm_up=520, soak=2_000
        )
        ending = loop.run_until_complete(graph.stop())
    finally:
        loop.close()
    people = graph.frame_no // NEW_PERSON_EVERY // 2
    waves = graph.frame_no // WAVE_FRAMES
    # The soak did what it says: hundreds of people tracked on each camera (each a new id),
    # batches sent, an occupancy episode per wave and camera, people lingering and crossing.
    assert max(graph.tracker("A").active_track_ids) >= people - 10
    assert transport.batches >= 2 * graph.frame_no // 5 - 2
    assert transport.ends >= 2 * (waves - 1)
    assert transport.events > people
    assert snapshots.submitted > people
    assert all(e.event.phase == "end" for e in ending)
    assert growth < 8 * 1024, f"{growth} bytes more held after {graph.frame_no} frames"


def test_an_occupancy_episode_reports_at_most_the_track_ids_the_wire_takes() -> None:
    """A hall busy for hours is one episode; the track ids it remembers are capped to what an
    ``Event`` carries (one with more would be refused by the control plane, its end lost)."""
    rule = build_rule(
        "busy", RuleParams(event_type="busy", condition="occupancy", cooldown_s=0.0), None
    )
    events = []
    for frame_no in range(3 * MAX_TRACK_IDS):
        ids = [frame_no, frame_no + 1]  # two people, a new one each frame
        detections = Detections(
            xyxy=np.tile(np.array([[10, 10, 50, 90]], np.float32), (2, 1)),
            confidence=np.full(2, 0.9, np.float32),
            class_id=np.zeros(2, np.int32),
            tracker_id=np.asarray(ids, np.int64),
        )
        events += rule.evaluate(RuleInput(ts=float(frame_no), detections=detections))
    events += rule.close(float(3 * MAX_TRACK_IDS))
    assert [e.phase for e in events][:1] + [e.phase for e in events][-1:] == ["start", "end"]
    end = events[-1]
    assert end.attributes["max_count"] == 2
    assert len(end.track_ids) == MAX_TRACK_IDS
    assert end.track_ids[:2] == (0, 1), "the first people of the episode are kept"
    # What the agent sends is what the control plane accepts.
    assert isinstance(decode_message(encode(wire_event(end)), channel=Channel.EVENTS), Event)


def wire_event(event: RuleEvent) -> Event:
    return Event(
        id=event.event_id,
        event_type=event.event_type,
        severity=event.severity,
        device_id="edge-1",
        stream_id="cam",
        ts=time.time(),
        phase=event.phase,
        rule_id=event.rule_id,
        track_ids=list(event.track_ids),
        attributes=dict(event.attributes),
    )


# -- the config supervisor: thousands of desired configs over months -----------------------------


def rejected_config(version: int) -> bytes:
    """A ``cfg/desired`` the agent rejects at once (no source), so nothing is built."""
    spec = PipelineSpec(name="p", nodes=[DetectNode(id="det")], edges=[])
    return encode(
        PipelineConfig(pipeline_id="pl-1", version=version, spec=spec, issued_at=time.time())
    )


def no_runner(spec: PipelineSpec, pipeline_id: str, version: int) -> PipelineRunner:
    raise AssertionError("a rejected config is never built")


def rejecting_supervisor(transport: Transport, tmp_path: Path) -> PipelineSupervisor:
    """A supervisor whose configs are all rejected before anything is built."""
    return PipelineSupervisor(
        device_id="edge-1",
        transport=transport,
        make_runner=no_runner,
        store=LastGoodStore(tmp_path / "last_good.json"),
    )


def test_the_supervisor_remembers_a_bounded_number_of_configs(tmp_path: Path) -> None:
    transport = CountingTransport()
    supervisor = rejecting_supervisor(transport, tmp_path)
    version = 0

    def apply(count: int) -> None:
        nonlocal version
        for _ in range(count):
            version += 1
            report = asyncio.run(supervisor.apply(rejected_config(version)))
            assert report is not None
            assert report.status == "rejected"
            assert "source" in (report.error or "")

    growth = state_growth(apply, supervisor, warm_up=100, soak=2_000)
    assert transport.reports == 2_100
    # The retained config redelivered after a reconnect is still recognised and ignored.
    assert asyncio.run(supervisor.apply(rejected_config(version))) is None
    assert growth < 1024, f"{growth} bytes more held after 2000 configs"


async def test_desired_configs_waiting_to_be_applied_are_bounded(tmp_path: Path) -> None:
    """Without config apply nothing takes them off the queue (the retained config comes again
    after every reconnect); with it, a burst waits. Only the newest wait; older are dropped."""
    transport = MemoryTransport()
    supervisor = rejecting_supervisor(transport, tmp_path)
    await supervisor.start(None)
    for version in range(1, 201):
        transport.deliver_config(rejected_config(version))
    await asyncio.sleep(0.05)  # the deliveries reach the loop
    assert supervisor.dropped_configs == 200 - MAX_QUEUED_CONFIGS
    applying = asyncio.create_task(supervisor.run())
    try:
        deadline = time.monotonic() + 10
        while len(transport.reports()) < MAX_QUEUED_CONFIGS:
            assert time.monotonic() < deadline, "the waiting configs were not applied"
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
    finally:
        applying.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await applying
    reported = [r.version for r in transport.reports()]
    assert reported == list(range(201 - MAX_QUEUED_CONFIGS, 201))


# -- snapshot uploads: one per event, for months ------------------------------------------------


def test_snapshot_uploads_hold_flat_memory(free_port: int) -> None:
    image = np.zeros((24, 32, 3), np.uint8)
    with http_stub(free_port, [(201, {})]) as stub:
        uploader = SnapshotUploader(stub.url, device_id="d", password="p", timeout_s=5.0)
        uploader.start()
        submitted = 0

        def upload(count: int) -> None:
            nonlocal submitted
            for _ in range(count):
                while uploader.submit(f"ev{submitted}", image, Detections.empty()) is None:
                    time.sleep(0.001)
                submitted += 1
            deadline = time.monotonic() + 30
            while uploader.stats.uploaded < submitted:
                assert time.monotonic() < deadline, "uploads stalled"
                time.sleep(0.005)

        try:
            growth = state_growth(upload, uploader, warm_up=100, soak=1_000)
        finally:
            uploader.stop()
    assert uploader.stats.failed == 0
    assert list(uploader.stats.keys)[-1] == f"snapshots/d/ev{submitted - 1}.jpg"
    assert growth < 1024, f"{growth} bytes more held after 1000 uploads"


# -- pipelines replaced: streams come and go ----------------------------------------------------


class PassDetect(Lifecycle):
    """A ``detect`` node without a model: every frame flows on with no detections. The class
    is its own factory."""

    kind: ClassVar[str] = "detect"
    names: Sequence[str] = NAMES

    def __init__(
        self, spec: DetectNode, ctx: BuildContext, upstream: Sequence[RuntimeNode]
    ) -> None:
        self.node_id = spec.id

    async def process(self, inputs: Sequence[Packet]) -> Packet | None:
        return inputs[0]


def swapping_registry() -> NodeRegistry:
    passing = NodeRegistry()
    passing.register(DetectNode, PassDetect)
    return default_registry(passing)


def stream_spec(stream: str) -> dict[str, object]:
    return {
        "name": "p",
        "nodes": [
            {"id": stream, "type": "source", "params": {"kind": "file", "uri": "x.mp4"}},
            {"id": "det", "type": "detect"},
            {"id": "trk", "type": "track"},
            {"id": "out", "type": "sink", "params": {"kind": "mqtt_detections"}},
        ],
        "edges": [
            {"source": stream, "target": "det"},
            {"source": "det", "target": "trk"},
            {"source": "trk", "target": "out"},
        ],
    }


def test_replaced_pipelines_and_their_streams_are_released(tmp_path: Path) -> None:
    """Streams come and go only with the pipeline that reads them: every config applied
    replaces the runner, and the old one (its nodes and their per-stream state) is freed."""
    cameras = CameraRegistry()

    def synthetic(params: SourceParams, options: CameraOptions) -> Camera:
        return SyntheticCamera(width=64, height=48, fps=50)

    cameras.register("file", synthetic)
    transport = CountingTransport()
    registry = swapping_registry()
    runners: list[weakref.ref[PipelineRunner]] = []

    def make_runner(spec: PipelineSpec, pipeline_id: str, version: int) -> PipelineRunner:
        ctx = build_context(
            transport, cameras=cameras, base_dir=tmp_path, pipeline_id=pipeline_id, version=version
        )
        runner = PipelineRunner(spec, ctx, registry)
        runners.append(weakref.ref(runner))
        return runner

    supervisor = PipelineSupervisor(
        device_id="edge-1",
        transport=transport,
        make_runner=make_runner,
        store=LastGoodStore(tmp_path / "last_good.json"),
        grace_s=0.0,
        open_timeout_s=5.0,
    )
    version = 0

    async def swap(count: int) -> None:
        nonlocal version
        for _ in range(count):
            version += 1
            config = PipelineConfig(
                pipeline_id="pl-1",
                version=version,
                spec=decode_pipeline(stream_spec(f"cam{version}")),
                issued_at=time.time(),
            )
            report = await supervisor.apply(encode(config))
            assert report is not None
            assert report.status == "applied", report
            await asyncio.sleep(0.02)  # a few frames through the new stream

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(swap(30))
        loop.run_until_complete(supervisor.stop())
    finally:
        loop.close()
    gc.collect()
    assert transport.batches > 0
    assert len(runners) == 30
    assert sum(ref() is not None for ref in runners) == 0, "a replaced pipeline is still held"
