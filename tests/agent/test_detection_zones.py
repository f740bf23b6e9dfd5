"""Detections leave the agent tagged with the zones they stand in, wherever the sink is wired.

The real detector runs on a test image (a bus and four people); zones are halves of the frame.
A detection is in a zone when the zone node would select it: its anchor (the bottom-center of
its box) inside the polygon, and its class among the zone's classes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aios.shared.messages import Detection
from tests.agent.test_multi_stream import agent_for, still_cameras

LEFT = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]
WHOLE = [[0, 0], [1, 0], [1, 1], [0, 1]]


def zone_pipeline(sink_input: str, *, zones: bool = True) -> dict[str, object]:
    """cam0 (bus.jpg) -> det -> two zones ("left": left half, any class; "people": the
    whole frame, persons only); the detections sink reads ``sink_input``."""
    nodes: list[dict[str, object]] = [
        {"id": "cam0", "type": "source", "params": {"kind": "file", "uri": "bus.jpg"}},
        {"id": "det", "type": "detect", "params": {"provider": "cpu", "conf": 0.25}},
        {"id": "dets", "type": "sink", "params": {"kind": "mqtt_detections"}},
    ]
    edges = [{"source": "cam0", "target": "det"}, {"source": sink_input, "target": "dets"}]
    if zones:
        nodes += [
            {"id": "left", "type": "zone", "params": {"polygon": LEFT}},
            {"id": "people", "type": "zone", "params": {"polygon": WHOLE, "classes": ["person"]}},
        ]
        edges += [{"source": "det", "target": "left"}, {"source": "det", "target": "people"}]
    return {"name": "zones", "nodes": nodes, "edges": edges}


async def sent_detections(
    tmp_path: Path, model_path: Path, testdata_dir: Path, pipeline: dict[str, object]
) -> list[Detection]:
    cameras = still_cameras(testdata_dir / "images", fps=50.0, frames=3)
    agent, transport = agent_for(tmp_path, model_path, cameras, pipeline)
    await asyncio.wait_for(agent.run(), 60)
    return [d for b in transport.batches() for f in b.frames for d in f.detections]


def expected_zones(d: Detection) -> list[str]:
    anchor_x = (d.xyxy[0] + d.xyxy[2]) / 2
    return (["left"] if anchor_x < 0.5 else []) + (["people"] if d.label == "person" else [])


async def test_a_sink_beside_the_zones_tags_each_detection_with_its_zones(
    tmp_path: Path, model_path: Path, testdata_dir: Path
) -> None:
    detections = await sent_detections(tmp_path, model_path, testdata_dir, zone_pipeline("det"))
    assert {d.label for d in detections} >= {"person", "bus"}
    assert [d.zones for d in detections] == [expected_zones(d) for d in detections]
    tagged = {z for d in detections for z in d.zones}
    assert tagged == {"left", "people"}, "the scene has objects on both sides"
    assert any(not d.zones for d in detections), "the bus is in neither zone"


async def test_a_sink_behind_a_zone_sends_only_its_detections_tagged_with_it(
    tmp_path: Path, model_path: Path, testdata_dir: Path
) -> None:
    detections = await sent_detections(tmp_path, model_path, testdata_dir, zone_pipeline("people"))
    assert detections
    assert {d.label for d in detections} == {"person"}
    assert [d.zones for d in detections] == [expected_zones(d) for d in detections]


async def test_without_zone_nodes_detections_carry_none(
    tmp_path: Path, model_path: Path, testdata_dir: Path
) -> None:
    pipeline = zone_pipeline("det", zones=False)
    detections = await sent_detections(tmp_path, model_path, testdata_dir, pipeline)
    assert detections
    assert all(d.zones == [] for d in detections)
