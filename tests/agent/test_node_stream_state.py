"""Pipeline nodes keep their state per stream and tune it to the rate frames reach them.

Nodes are driven directly with hand-made packets, so each test says exactly which frame of
which stream arrives when.
"""

from __future__ import annotations

import numpy as np
import pytest

from aios.agent.detections import NO_TRACK, Detections
from aios.agent.errors import ConfigError
from aios.agent.pipeline.frame_rate import FrameRateEstimate
from aios.agent.pipeline.nodes.line import LineRuntime
from aios.agent.pipeline.nodes.rule import RuleRuntime
from aios.agent.pipeline.nodes.track import TrackRuntime
from aios.agent.pipeline.packet import Packet
from aios.agent.sources.frame import Frame
from aios.shared.pipeline import (
    LineNode,
    LineParams,
    RuleNode,
    RuleParams,
    TrackNode,
    TrackParams,
)
from tests.agent.build_context import build_context

W, H = 200, 100
IMAGE = np.zeros((H, W, 3), np.uint8)


def packet(
    stream: str,
    ts: float,
    boxes: list[tuple[float, float, float, float]],
    track_ids: list[int] | None = None,
) -> Packet:
    """A frame of ``stream`` at ``ts`` with one person per box (confidence 0.9)."""
    n = len(boxes)
    detections = Detections(
        xyxy=np.asarray(boxes, np.float32).reshape(n, 4),
        confidence=np.full(n, 0.9, np.float32),
        class_id=np.zeros(n, np.int32),
        tracker_id=np.asarray(track_ids if track_ids is not None else [NO_TRACK] * n, np.int64),
    )
    return Packet(stream_id=stream, frame=Frame(IMAGE, ts, 0), detections=detections)


def tracked(stream: str, ts: float, track_id: int, x: float) -> Packet:
    """Track ``track_id`` of ``stream`` standing at ``x`` (its box's bottom-center)."""
    return packet(stream, ts, [(x - 5, 40.0, x + 5, 60.0)], [track_id])


async def test_line_crossings_are_remembered_per_stream() -> None:
    """Track 1 of camera A on the left and track 1 of camera B on the right are two objects:
    neither crosses the vertical line, and each camera counts only its own crossing."""
    spec = LineNode(id="door", params=LineParams(start=(0.5, 0.0), end=(0.5, 1.0)))
    line = LineRuntime(spec, None, ["person"])
    await line.start()
    crossings: list[tuple[str, bool]] = []
    for p in (
        tracked("A", 0.0, 1, 50),
        tracked("B", 0.0, 1, 150),
        tracked("A", 0.1, 1, 52),
        tracked("B", 0.1, 1, 148),
        tracked("A", 0.2, 1, 150),  # camera A's person really crosses
    ):
        out = await line.process([p])
        assert out is not None
        assert out.crossed_in is not None
        assert out.crossed_out is not None
        crossings.append((p.stream_id, bool(out.crossed_in.any() or out.crossed_out.any())))
    assert crossings == [("A", False), ("B", False), ("A", False), ("B", False), ("A", True)]
    assert sum(line.counts["A"]) == 1
    assert line.counts["B"] == (0, 0)


@pytest.mark.parametrize(
    ("fps", "buffer_frames", "expected_lost_frames"),
    [(10.0, 30, 10), (5.0, 30, 5), (30.0, 60, 60), (2.5, 90, 8)],
)
async def test_tracker_lost_buffer_follows_the_rate_frames_arrive_at(
    fps: float, buffer_frames: int, expected_lost_frames: int
) -> None:
    spec = TrackNode(id="trk", params=TrackParams(lost_buffer_frames=buffer_frames))
    node = TrackRuntime(spec, ["person"], nominal_fps=30.0)
    await node.start()
    for i in range(20):
        await node.process([packet("A", 1000.0 + i / fps, [(10, 10, 30, 60)])])
    await node.process([packet("B", 1000.0, [(10, 10, 30, 60)])])
    tracker = node.tracker("A")
    assert tracker.frame_rate == pytest.approx(fps, rel=0.01)
    assert tracker.max_lost_frames == expected_lost_frames
    # Camera B has seen one frame: still the nominal rate, and its own ids.
    assert node.tracker("B").frame_rate == 30.0
    assert node.tracker("B").active_track_ids == [1]


def test_frame_rate_estimate_ignores_one_long_gap() -> None:
    rate = FrameRateEstimate(nominal_fps=15.0)
    ts = [i * 0.1 for i in range(10)] + [6.0 + i * 0.1 for i in range(10)]
    fps = [rate.add(t) for t in ts]
    assert fps[2] == 15.0  # too few frames yet: the nominal rate
    assert fps[-1] == pytest.approx(10.0)


async def test_dwell_episode_survives_an_occlusion_as_long_as_the_lost_buffer() -> None:
    """With a 3 s lost buffer, a loiterer hidden for 2.5 s (whose track the tracker finds
    again) is one episode; the rule's default of 1 s would have ended it and started another."""
    trk = TrackRuntime(TrackNode(id="trk", params=TrackParams(lost_buffer_frames=90)), ["person"])
    params = RuleParams(event_type="loitering", condition="dwell", dwell_s=2.0, cooldown_s=0.0)
    node = RuleRuntime.build(RuleNode(id="loiter", params=params), build_context(), [trk])
    await node.start()
    events = []
    times = [t / 10 for t in range(40)] + [t / 10 for t in range(65, 80)]
    for ts in times:
        out = await node.process([tracked("A", ts, 7, 100)])
        assert out is not None
        events += [(e.phase, e.event_id) for e in out.events]
    events += [(said.event.phase, said.event.event_id) for said in await node.stop()]
    assert [phase for phase, _ in events] == ["start", "end"]
    assert len({event_id for _, event_id in events}) == 1


async def test_rule_episodes_are_per_stream() -> None:
    params = RuleParams(event_type="loitering", condition="dwell", dwell_s=1.0, cooldown_s=0.0)
    node = RuleRuntime.build(RuleNode(id="loiter", params=params), build_context(), [])
    await node.start()
    started: list[str] = []
    for i in range(15):
        ts = i / 10
        for stream in ("A", "B"):
            out = await node.process([tracked(stream, ts, 1, 100)])
            assert out is not None
            started += [out.stream_id for e in out.events if e.phase == "start"]
    ending = await node.stop()
    assert started == ["A", "B"]
    assert sorted(said.stream_id for said in ending) == ["A", "B"]


@pytest.mark.parametrize(
    ("class_groups", "ids", "classes"),
    [
        # car and truck grouped: one track, reported as what it mostly is (car).
        ([["car", "truck"]], [1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]),
        # Not grouped: a truck detection is not the car's, and the car's track is lost for
        # that frame, then found again.
        (None, [1, 1, 1, -1, 1, 1], [1, 1, 1, -1, 1, 1]),
    ],
)
async def test_track_node_associates_within_its_class_groups(
    class_groups: list[list[str]] | None, ids: list[int], classes: list[int]
) -> None:
    spec = TrackNode(id="trk", params=TrackParams(class_groups=class_groups))
    node = TrackRuntime(spec, ["person", "car", "truck"])
    await node.start()
    got_ids, got_classes = [], []
    for i, class_id in enumerate([1, 1, 1, 2, 1, 1]):
        p = packet("A", 1000.0 + i / 30, [(10 + i, 10, 60 + i, 40)])
        p = Packet(
            stream_id=p.stream_id,
            frame=p.frame,
            detections=Detections(
                xyxy=p.detections.xyxy,
                confidence=p.detections.confidence,
                class_id=np.array([class_id], np.int32),
                tracker_id=p.detections.tracker_id,
            ),
        )
        out = await node.process([p])
        assert out is not None
        got_ids.append(int(out.detections.tracker_id[0]) if len(out.detections) else -1)
        got_classes.append(int(out.detections.class_id[0]) if len(out.detections) else -1)
    assert (got_ids, got_classes) == (ids, classes)


def test_track_node_refuses_an_unknown_label_in_its_class_groups() -> None:
    spec = TrackNode(id="trk", params=TrackParams(class_groups=[["car", "lorry"]]))
    with pytest.raises(ConfigError, match=r"track 'trk': class_groups.*lorry"):
        TrackRuntime(spec, ["person", "car", "truck"])
