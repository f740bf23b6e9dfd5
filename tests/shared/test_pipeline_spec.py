from __future__ import annotations

import copy
from typing import Any

import pytest

from aios.shared.errors import PipelineValidationError
from aios.shared.pipeline import DetectNode, PipelineSpec, decode_pipeline

BASE: dict[str, Any] = {
    "name": "entrance",
    "nodes": [
        {"id": "cam", "type": "source", "params": {"kind": "file", "uri": "a.mp4", "loop": True}},
        {"id": "det", "type": "detect", "params": {"conf": 0.3, "classes": ["person"]}},
        {"id": "trk", "type": "track"},
        {"id": "door", "type": "zone", "params": {"polygon": [[0, 0], [0.5, 0], [0.5, 1]]}},
        {"id": "gate", "type": "line", "params": {"start": [0.1, 0.5], "end": [0.9, 0.5]}},
        {
            "id": "loiter",
            "type": "rule",
            "params": {"event_type": "loitering", "condition": "dwell", "dwell_s": 30},
        },
        {"id": "out", "type": "sink", "params": {"kind": "mqtt_detections"}},
    ],
    "edges": [
        {"source": "cam", "target": "det"},
        {"source": "det", "target": "trk"},
        {"source": "trk", "target": "door"},
        {"source": "trk", "target": "gate"},
        {"source": "door", "target": "loiter"},
        {"source": "trk", "target": "out"},
    ],
}


def test_valid_pipeline_decodes_with_defaults() -> None:
    spec = decode_pipeline(BASE)
    assert isinstance(spec, PipelineSpec)
    det = spec.node("det")
    assert isinstance(det, DetectNode)
    assert det.params.conf == 0.3
    assert det.params.iou == 0.7
    assert spec.topological_order()[0] == "cam"
    order = spec.topological_order()
    assert order.index("trk") < order.index("door") < order.index("loiter")


def test_json_bytes_and_dict_agree() -> None:
    import msgspec

    assert decode_pipeline(msgspec.json.encode(BASE)) == decode_pipeline(BASE)


def _mutate(path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    target: Any = doc
    keys = path.split(".")
    for k in keys[:-1]:
        target = target[int(k)] if k.isdigit() else target[k]
    last = keys[-1]
    if value is _DELETE:
        del target[int(last) if last.isdigit() else last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "node", "field", "words"),
    [
        ("nodes.1.params.conf", 1.5, "det", "params.conf", "<= 1.0"),
        ("nodes.1.params.confidence", 0.5, "det", "params", "unknown field `confidence`"),
        ("nodes.1.type", "detekt", "det", "type", "unknown node type 'detekt'"),
        ("nodes.0.params.kind", "ftp", "cam", "params.kind", "Invalid enum value"),
        ("nodes.0.params", _DELETE, "cam", None, "missing required field `params`"),
        ("nodes.3.params.polygon", [[0, 0], [1, 1]], "door", "params.polygon", "length >= 3"),
        ("nodes.4.params.end", [0.1, 0.5], "gate", "params.end", "same point"),
        ("nodes.5.params.dwell_s", _DELETE, "loiter", "params.dwell_s", "needs dwell_s"),
        ("nodes.2.id", "det", "det", "id", "duplicate node id"),
        ("edges.0.target", "nowhere", None, "edges[0].target", "unknown node 'nowhere'"),
        ("edges.5.source", "cam", "out", None, "cannot take input from a source"),
        ("edges.1.target", "det", "det", None, "itself"),
        ("edges.2.source", "gate", "door", None, "cannot take input from a line"),
    ],
)
def test_invalid_pipelines_name_node_and_field(
    path: str, value: Any, node: str | None, field: str | None, words: str
) -> None:
    with pytest.raises(PipelineValidationError) as info:
        decode_pipeline(_mutate(path, value))
    err = info.value
    assert err.node == node
    assert err.field == field
    assert words in str(err)


def test_cycle_is_rejected() -> None:
    doc = copy.deepcopy(BASE)
    doc["nodes"].append(
        {"id": "z2", "type": "zone", "params": {"polygon": [[0, 0], [1, 0], [1, 1]]}}
    )
    doc["edges"] += [
        {"source": "door", "target": "z2"},
        {"source": "z2", "target": "door"},
    ]
    with pytest.raises(PipelineValidationError, match="cycle"):
        decode_pipeline(doc)


def test_node_without_input_is_rejected() -> None:
    doc = copy.deepcopy(BASE)
    doc["edges"] = [e for e in doc["edges"] if e["target"] != "out"]
    with pytest.raises(PipelineValidationError, match="no input edge") as info:
        decode_pipeline(doc)
    assert info.value.node == "out"


@pytest.mark.parametrize("data", [b"", b"{", b"[]", b'"x"', b"null"])
def test_garbage_is_a_validation_error(data: bytes) -> None:
    with pytest.raises(PipelineValidationError):
        decode_pipeline(data)


def test_one_detector_may_serve_several_cameras() -> None:
    doc = copy.deepcopy(BASE)
    doc["nodes"].append({"id": "cam2", "type": "source", "params": {"kind": "usb", "uri": "0"}})
    doc["edges"].append({"source": "cam2", "target": "det"})
    spec = decode_pipeline(doc)
    assert sorted(spec.inputs("det")) == ["cam", "cam2"]


def test_a_line_takes_one_input() -> None:
    doc = copy.deepcopy(BASE)
    doc["edges"].append({"source": "door", "target": "gate"})
    with pytest.raises(PipelineValidationError, match="exactly one input") as info:
        decode_pipeline(doc)
    assert info.value.node == "gate"
