"""Pipeline node kinds and their typed parameters.

A node is ``{"id": ..., "type": ..., "params": {...}}``; ``type`` selects the params Struct.
Params reject unknown fields: a pipeline is configuration, and a misspelt parameter must fail
validation with its name rather than be silently ignored. Coordinates are normalized to
``[0, 1]`` of the frame.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from aios.shared.fields import EventType, Identifier, Severity, Unit

NodeId = Identifier
Point = tuple[Unit, Unit]
PositiveInt = Annotated[int, Meta(ge=1)]
Label = Annotated[str, Meta(min_length=1, max_length=64)]
ZoneMode = Literal["inside", "outside"]
Provider = Literal["auto", "tensorrt", "cuda", "openvino", "cpu"]


class _Params(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class SourceParams(
    _Params, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """A camera or video. ``uri``: file path, ``rtsp://``, ``http(s)://`` MJPEG, or a V4L2
    device (``/dev/video0`` or an index such as ``0``). ``transport``: the RTSP lower transport
    (``tcp``, the default, or ``udp``). Defaults are left out when encoded, so a pipeline that
    does not use a newer field still reaches agents that predate it."""

    kind: Literal["file", "rtsp", "usb", "http"]
    uri: Annotated[str, Meta(min_length=1, max_length=2048)]
    loop: bool = False
    max_fps: Annotated[float, Meta(gt=0)] | None = None
    width: PositiveInt | None = None
    height: PositiveInt | None = None
    transport: Literal["tcp", "udp"] = "tcp"


class DetectParams(_Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """YOLOv8 detection. ``model`` is a path or a name from the model manifest.

    A detect node may take several sources: they share one model session, served in turn so
    the detector stays busy and no stream starves; the frame policy applies per stream.

    Frame policy: run on every ``every_n``-th frame, at most ``target_fps`` per second, and,
    when ``motion_threshold`` is set, only if the mean absolute pixel change since the last
    inferred frame (0-255 scale, on a small grayscale thumbnail) exceeds it.
    """

    model: Annotated[str, Meta(min_length=1, max_length=1024)] = "yolov8n"
    conf: Unit = 0.25
    iou: Unit = 0.7
    classes: list[Label] | None = None
    max_det: Annotated[int, Meta(ge=1, le=10000)] = 300
    input_size: Annotated[int, Meta(ge=32, le=4096, multiple_of=32)] | None = None
    provider: Provider = "auto"
    every_n: PositiveInt = 1
    target_fps: Annotated[float, Meta(gt=0)] | None = None
    motion_threshold: Annotated[float, Meta(ge=0, le=255)] | None = None


class TrackParams(_Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """ByteTrack-style multi-object tracking, within a class.

    A track only takes detections of its own class. ``class_groups`` lists sets of labels
    the detector confuses with each other (e.g. ``["car", "truck", "bus"]``): a track takes
    any class of its group and reports the one it was most confidently seen as.
    """

    high_thresh: Unit = 0.5
    low_thresh: Unit = 0.1
    new_track_thresh: Unit = 0.6
    match_thresh: Unit = 0.8
    lost_buffer_frames: PositiveInt = 30
    class_groups: list[Annotated[list[Label], Meta(min_length=2)]] | None = None


class ZoneParams(_Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A polygon; keeps detections whose bottom-center is inside (or outside) it."""

    polygon: Annotated[list[Point], Meta(min_length=3, max_length=256)]
    mode: ZoneMode = "inside"
    classes: list[Label] | None = None


class LineParams(_Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A directed line; counts tracked objects crossing it (``in``: left-to-right of start->end)."""

    start: Point
    end: Point
    classes: list[Label] | None = None


class RuleParams(_Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Turns zone, line or detection state into events.

    ``condition``:
    - ``count``: at least ``min_count`` objects (of ``classes``) present -> instant event;
    - ``occupancy``: like ``count`` but with a start/end lifecycle while it holds;
    - ``dwell``: an object stays longer than ``dwell_s`` (loitering), lifecycle per track;
    - ``line_count``: the line's ``direction`` count reaches a multiple of ``min_count``.
    """

    event_type: EventType
    condition: Literal["count", "occupancy", "dwell", "line_count"]
    severity: Severity = "warning"
    classes: list[Label] | None = None
    min_count: PositiveInt = 1
    dwell_s: Annotated[float, Meta(gt=0)] | None = None
    direction: Literal["in", "out", "any"] = "any"
    cooldown_s: Annotated[float, Meta(ge=0)] = 30.0
    snapshot: bool = True


class SinkParams(_Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Sends what reaches it: detection batches (sampled) or events, over MQTT."""

    kind: Literal["mqtt_detections", "mqtt_events"]
    sample_every: PositiveInt = 1
    max_frames_per_batch: Annotated[int, Meta(ge=1, le=1000)] = 10
    flush_interval_s: Annotated[float, Meta(gt=0, le=60)] = 1.0


class _Node(Struct, frozen=True, kw_only=True, tag_field="type", forbid_unknown_fields=True):
    id: NodeId


class SourceNode(_Node, tag="source", frozen=True, kw_only=True):
    params: SourceParams


class DetectNode(_Node, tag="detect", frozen=True, kw_only=True):
    params: DetectParams = DetectParams()


class TrackNode(_Node, tag="track", frozen=True, kw_only=True):
    params: TrackParams = TrackParams()


class ZoneNode(_Node, tag="zone", frozen=True, kw_only=True):
    params: ZoneParams


class LineNode(_Node, tag="line", frozen=True, kw_only=True):
    params: LineParams


class RuleNode(_Node, tag="rule", frozen=True, kw_only=True):
    params: RuleParams


class SinkNode(_Node, tag="sink", frozen=True, kw_only=True):
    params: SinkParams


Node = SourceNode | DetectNode | TrackNode | ZoneNode | LineNode | RuleNode | SinkNode

NODE_TYPES: dict[str, type[Node]] = {
    "source": SourceNode,
    "detect": DetectNode,
    "track": TrackNode,
    "zone": ZoneNode,
    "line": LineNode,
    "rule": RuleNode,
    "sink": SinkNode,
}
NODE_TYPE_OF: dict[type[Node], str] = {cls: name for name, cls in NODE_TYPES.items()}

# Which node types may feed which: the DAG's typing rules.
ALLOWED_INPUTS: dict[str, frozenset[str]] = {
    "source": frozenset(),
    "detect": frozenset({"source"}),
    "track": frozenset({"detect"}),
    "zone": frozenset({"detect", "track", "zone"}),
    "line": frozenset({"track", "zone"}),
    "rule": frozenset({"detect", "track", "zone", "line"}),
    "sink": frozenset({"detect", "track", "zone", "line", "rule"}),
}
