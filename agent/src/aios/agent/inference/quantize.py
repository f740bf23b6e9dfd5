"""Static int8 quantization of a YOLOv8 detection model (``aios-agent model quantize``).

ONNX Runtime's ``quantize_static`` writes a QDQ model: int8 weights, per output channel, and
int8 activations whose ranges come from calibration frames (see
:mod:`~aios.agent.inference.calibration`), letterboxed exactly as the detector does it. The
precision-sensitive decode that follows the head's last convolutions (DFL softmax, the box
arithmetic, the class sigmoid, the concatenations) stays in float32: quantizing it would put
box coordinates in pixels and scores in [0, 1] on one 256-step grid. Optionally the head's last
convolutions and the first convolution stay float32 too.

The output keeps the source's Ultralytics ``metadata_props`` (``names``, ``stride``,
``imgsz``, ``task``), so :class:`~aios.agent.inference.detector.Detector` loads it like any
export. Needs the ``onnx`` package (``aios-agent[quantize]``); ONNX Runtime and onnx errors are
translated into :class:`~aios.agent.errors.ModelError` here.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from aios.agent.errors import ConfigError, ModelError
from aios.agent.inference.calibration import calibration_frames, letterboxed

if TYPE_CHECKING:
    from onnx import GraphProto, NodeProto

log = logging.getLogger(__name__)

Method = Literal["minmax", "entropy", "percentile"]
METHODS: tuple[Method, ...] = ("minmax", "entropy", "percentile")
ACTIVATIONS = frozenset({"Sigmoid", "Relu", "LeakyRelu", "HardSigmoid", "Tanh"})


@dataclass(frozen=True, slots=True)
class QuantizeOptions:
    """How to quantize. The defaults are the best configuration measured on YOLOv8n (2-core
    x86 CPU): uint8 asymmetric activations (symmetric int8 ran at half fp32's speed),
    min-max ranges (percentile and entropy agreed no better), first and head convs fp32."""

    frames: int = 24
    method: Method = "minmax"
    percentile: float = 99.999
    fp32_head_convs: bool = True
    """Keep the head's last (class and box) convolutions in float32."""
    fp32_head_blocks: int = 0
    """Also keep this many Conv+SiLU blocks before each of those convolutions in float32."""
    fp32_first_conv: bool = True
    fp32_sppf: bool = True
    """Keep the SPPF block (a conv, three chained max-pools concatenated with their input, a
    conv) in float32: the concat forces one int8 scale on four differently pooled maps, and
    it cost 1 of every 100 boxes (95.96% agreement with it float32, 94.95% without, on 30
    video frames; speed 1.7x instead of 1.9x fp32)."""
    symmetric_activations: bool = False
    quantize_bias: bool = True
    op_types: str = ""
    """ONNX op types to quantize, joined by ``+`` (``Conv+Mul``); empty: every type ONNX Runtime
    can."""
    fp32_prefixes: str = ""
    """Keep the nodes whose names start with one of these, joined by ``+``, in float32
    (``/model.22/cv3`` is YOLOv8's class branch)."""


@dataclass(frozen=True, slots=True)
class QuantizeReport:
    """What ``quantize`` did."""

    source: Path
    output: Path
    frames: int
    method: Method
    excluded_nodes: int
    seconds: float


def blocks_before(graph: GraphProto, convs: list[str], depth: int) -> list[str]:
    """The nodes of the ``depth`` Conv+SiLU (``Conv``, ``Sigmoid``, ``Mul``) blocks feeding
    each of ``convs``, walking up their first input."""
    producer = {out: node for node in graph.node for out in node.output}
    by_name = {node.name: node for node in graph.node}
    out: list[str] = []
    for name in convs:
        node = by_name[name]
        for _ in range(depth):
            mul = producer.get(node.input[0])
            if mul is None or mul.op_type != "Mul":
                break
            parents = [producer[i] for i in mul.input if i in producer]
            conv = next((n for n in parents if n.op_type == "Conv"), None)
            if conv is None:
                break
            out += [n.name for n in parents] + [mul.name]
            node = conv
    return out


def _silu(conv: NodeProto, consumers: dict[str, list[NodeProto]]) -> list[str]:
    """The ``Sigmoid`` and ``Mul`` of the SiLU after ``conv`` (none if it has no SiLU)."""
    after = consumers.get(conv.output[0], [])
    sigmoids = [n for n in after if n.op_type == "Sigmoid"]
    muls = [n for n in after if n.op_type == "Mul"]
    return [n.name for n in sigmoids + muls] if sigmoids and muls else []


def sppf_nodes(graph: GraphProto) -> list[str]:
    """The nodes of YOLOv8's SPPF block: the max-pools, the ``Concat`` joining them with their
    input, the conv (and SiLU) feeding the first pool and the one after the concat; empty for a
    graph without max-pools."""
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    pools = [node for node in graph.node if node.op_type == "MaxPool"]
    out: dict[str, None] = dict.fromkeys(node.name for node in pools)
    for pool in pools:
        for concat in consumers.get(pool.output[0], []):
            if concat.op_type != "Concat":
                continue
            out[concat.name] = None
            for conv in consumers.get(concat.output[0], []):
                if conv.op_type == "Conv":
                    out.update(dict.fromkeys([conv.name, *_silu(conv, consumers)]))
        mul = producer.get(pool.input[0])
        if mul is not None and mul.op_type == "Mul":
            feeding = [producer[i] for i in mul.input if i in producer]
            for before in feeding:
                if before.op_type == "Conv":
                    out.update(dict.fromkeys([before.name, *_silu(before, consumers)]))
    return list(out)


def head_nodes(graph: GraphProto) -> tuple[list[str], list[str]]:
    """The decode nodes after the head's last convolutions, and those convolutions.

    The head's last convolutions are the Conv nodes with no activation after them (every
    backbone and neck Conv feeds a SiLU, ``Sigmoid`` then ``Mul``); the decode is everything
    downstream of their outputs. A graph without them is not a YOLOv8 detector.
    """
    consumers: dict[str, list[NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    head_convs = [
        node
        for node in graph.node
        if node.op_type == "Conv"
        and not any(c.op_type in ACTIVATIONS for c in consumers.get(node.output[0], []))
    ]
    decode: dict[str, None] = {}
    frontier = [out for conv in head_convs for out in conv.output]
    while frontier:
        for node in consumers.get(frontier.pop(), []):
            if node.name not in decode:
                decode[node.name] = None
                frontier.extend(node.output)
    head = [conv.name for conv in head_convs if conv.name not in decode]
    if not head or not decode:
        raise ModelError("not a YOLOv8 detection head: no convolution without an activation")
    return list(decode), head


class _FrameReader:
    """ONNX Runtime's ``CalibrationDataReader`` protocol over letterboxed frames."""

    def __init__(self, input_name: str, tensors: Iterator[npt.NDArray[np.float32]]) -> None:
        self._input = input_name
        self._tensors = tensors

    def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
        tensor = next(self._tensors, None)
        return None if tensor is None else {self._input: tensor}


def quantize(
    source: Path, output: Path, calibration: Path, options: QuantizeOptions | None = None
) -> QuantizeReport:
    """Write a static int8 (QDQ) copy of the YOLOv8 model ``source`` to ``output``."""
    opts = options or QuantizeOptions()
    if opts.method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {opts.method!r}")
    try:
        import onnx
    except ImportError as exc:
        raise ModelError(
            "quantization needs the onnx package: pip install 'aios-agent[quantize]'"
        ) from exc
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    from aios.agent.inference.detector import Detector

    started = time.perf_counter()
    info = Detector.load(source, provider="cpu").info
    if info.input_dtype != "float32":
        raise ModelError(f"{source}: quantization needs a float32 model, found {info.input_dtype}")
    frames = calibration_frames(calibration, opts.frames)
    try:
        model = onnx.load(str(source))
    except Exception as exc:  # onnx raises DecodeError, OSError, ValueError...
        raise ModelError(f"{source}: onnx cannot read it: {exc}") from exc
    decode, head_convs = head_nodes(model.graph)
    exclude = decode + (head_convs if opts.fp32_head_convs else [])
    exclude += blocks_before(model.graph, head_convs, opts.fp32_head_blocks)
    prefixes = tuple(p for p in opts.fp32_prefixes.split("+") if p)
    if prefixes:
        exclude += [n.name for n in model.graph.node if n.name.startswith(prefixes)]
    if opts.fp32_sppf:
        exclude += sppf_nodes(model.graph)
    if opts.fp32_first_conv:
        exclude.append(next(n.name for n in model.graph.node if n.op_type == "Conv"))
    reader = _FrameReader(info.input.name, letterboxed(frames, *info.imgsz))
    CalibrationDataReader.register(_FrameReader)
    method = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }[opts.method]
    extra = {
        "ActivationSymmetric": opts.symmetric_activations,
        "WeightSymmetric": True,
        "QuantizeBias": opts.quantize_bias,
        "CalibPercentile": opts.percentile,
    }
    act_type = QuantType.QInt8 if opts.symmetric_activations else QuantType.QUInt8
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="aios-quantize-") as tmp:
        staged = Path(tmp) / "int8.onnx"
        try:
            quantize_static(
                model,
                str(staged),
                reader,
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=act_type,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=exclude,
                op_types_to_quantize=[t for t in opts.op_types.split("+") if t] or None,
                calibrate_method=method,
                extra_options=extra,
            )
            quantized = onnx.load(str(staged))
        except (ConfigError, ModelError):
            raise
        except Exception as exc:  # ONNX Runtime raises bare RuntimeError/ValueError/Fail
            raise ModelError(f"{source}: quantization failed: {exc}") from exc
    del quantized.metadata_props[:]
    for prop in model.metadata_props:
        if prop.key != "quantization":
            quantized.metadata_props.add(key=prop.key, value=prop.value)
    note = f"static int8 QDQ, {opts.method}, {len(frames)} frames"
    quantized.metadata_props.add(key="quantization", value=note)
    onnx.save(quantized, str(output))
    report = QuantizeReport(
        source, output, len(frames), opts.method, len(exclude), time.perf_counter() - started
    )
    log.info("quantized %s -> %s (%s)", source, output, note)
    return report
