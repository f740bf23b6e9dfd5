"""The sample pipeline the demo, the proof rig and the tests run, spelled once: a file camera,
the detector, optionally its detections, then a ``person_present`` rule (behind a tracker and a
zone when one is given) feeding an events sink. Callers vary only the parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FULL_FRAME = [[0, 0], [1, 0], [1, 1], [0, 1]]
"""A zone polygon covering the whole picture (normalized coordinates)."""


def node(node_id: str, kind: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One pipeline node; ``params`` left out when there are none."""
    spelled: dict[str, Any] = {"id": node_id, "type": kind}
    if params is not None:
        spelled["params"] = dict(params)
    return spelled


def person_present_pipeline(
    name: str,
    video: str,
    *,
    detect: Mapping[str, Any],
    rule: Mapping[str, Any],
    zone: tuple[str, Mapping[str, Any]] | None = None,
    detections: Mapping[str, Any] | None = None,
    loop: bool = True,
    rule_id: str = "present",
    sink_id: str = "evt",
) -> dict[str, Any]:
    """The sample pipeline named ``name`` on ``video``.

    ``detect``: the detector's params. ``rule``: the rule's params besides its event type
    (``person_present``) and classes (``person``). ``zone``: the id and params of a zone the rule
    watches, behind a tracker (``None``: the rule reads the detector). ``detections``: extra params
    of an ``mqtt_detections`` sink ``out`` on the detector (``None``: no such sink).
    """
    source = {"kind": "file", "uri": video, **({"loop": True} if loop else {})}
    nodes = [node("cam", "source", source), node("det", "detect", detect)]
    edges = [("cam", "det")]
    if detections is not None:
        nodes.append(node("out", "sink", {"kind": "mqtt_detections", **detections}))
        edges.append(("det", "out"))
    upstream = "det"
    if zone is not None:
        zone_id, zone_params = zone
        nodes += [node("trk", "track"), node(zone_id, "zone", zone_params)]
        edges += [("det", "trk"), ("trk", zone_id)]
        upstream = zone_id
    rule_params = {"event_type": "person_present", "classes": ["person"], **rule}
    nodes += [
        node(rule_id, "rule", rule_params),
        node(sink_id, "sink", {"kind": "mqtt_events"}),
    ]
    edges += [(upstream, rule_id), (rule_id, sink_id)]
    return {
        "name": name,
        "nodes": nodes,
        "edges": [{"source": tail, "target": head} for tail, head in edges],
    }
