"""What an Ultralytics YOLOv8 detection export says about itself, read and checked.

Ultralytics writes ``names``, ``stride``, ``imgsz`` and ``task`` into the ONNX
``metadata_props``; ONNX Runtime exposes them as ``custom_metadata_map`` (so the agent needs no
``onnx`` package). Values are Python literals (``{0: 'person', ...}``, ``[640, 640]``) and are
parsed with :func:`ast.literal_eval`, never ``eval``. Anything that is not a raw YOLOv8-style
detection head (segmentation, pose, an end-to-end export with NMS inside, a model without
Ultralytics metadata) is refused with :class:`ModelError` saying what was expected and what
was found.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aios.agent.errors import ModelError

DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16"}


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """An input or output as the session reports it; ``None`` marks a dynamic dimension."""

    name: str
    shape: tuple[int | None, ...]
    type: str


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """Checked facts about a YOLOv8 detection model."""

    names: tuple[str, ...]
    stride: int
    imgsz: tuple[int, int]
    task: str
    input: TensorSpec
    output: TensorSpec
    input_dtype: str
    batch: int | None
    """Fixed batch size, or ``None`` when the batch dimension is dynamic."""
    transposed: bool
    """Output laid out (batch, anchors, 4 + classes) instead of (batch, 4 + classes, anchors)."""
    extra: Mapping[str, str]

    @property
    def fixed_hw(self) -> tuple[int, int] | None:
        h, w = self.input.shape[2], self.input.shape[3]
        return (h, w) if h is not None and w is not None else None


def tensor_spec(name: str, shape: Sequence[object], type_: str) -> TensorSpec:
    dims = tuple(d if isinstance(d, int) and d > 0 else None for d in shape)
    return TensorSpec(name=name, shape=dims, type=type_)


def _literal(meta: Mapping[str, str], key: str, source: str) -> object:
    try:
        return ast.literal_eval(meta[key])
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise ModelError(f"{source}: metadata '{key}' is not readable: {meta[key]!r:.80}") from exc


def _names(meta: Mapping[str, str], source: str) -> tuple[str, ...]:
    raw = _literal(meta, "names", source)
    if isinstance(raw, dict) and raw and all(isinstance(k, int) for k in raw):
        if sorted(raw) != list(range(len(raw))):
            raise ModelError(f"{source}: metadata 'names' ids are not 0..{len(raw) - 1}")
        return tuple(str(raw[i]) for i in range(len(raw)))
    if isinstance(raw, list | tuple) and raw:
        return tuple(str(n) for n in raw)
    raise ModelError(f"{source}: expected metadata 'names' as {{id: label}}, found {raw!r:.80}")


def _imgsz(meta: Mapping[str, str], source: str) -> tuple[int, int] | None:
    if "imgsz" not in meta:
        return None
    raw = _literal(meta, "imgsz", source)
    if isinstance(raw, int):
        raw = [raw, raw]
    if (
        isinstance(raw, list | tuple)
        and len(raw) == 2
        and all(isinstance(v, int) and v > 0 for v in raw)
    ):
        return int(raw[0]), int(raw[1])
    raise ModelError(f"{source}: expected metadata 'imgsz' as [h, w], found {raw!r:.80}")


def read_model_info(
    meta: Mapping[str, str],
    inputs: Sequence[TensorSpec],
    outputs: Sequence[TensorSpec],
    source: str,
    input_size: int | None = None,
) -> ModelInfo:
    """Check ``meta`` and the graph's inputs/outputs; raise :class:`ModelError` if unusable.

    ``input_size`` picks the square network input of a model with dynamic height and width; a
    model with a fixed input size refuses a different one.
    """
    expected = "an Ultralytics YOLOv8 detection export (ONNX)"
    missing = [k for k in ("names", "task") if k not in meta]
    if missing:
        found = ", ".join(sorted(meta)) or "no metadata at all"
        raise ModelError(
            f"{source}: expected {expected} with metadata 'names' and 'task'; "
            f"missing {', '.join(missing)} (found: {found})"
        )
    task = meta["task"]
    if task != "detect":
        raise ModelError(f"{source}: expected task 'detect', found task {task!r}")
    if meta.get("end2end", "False").lower() == "true" or meta.get("nms", "False") == "True":
        raise ModelError(
            f"{source}: expected a raw detection head (export with nms=False), "
            "found an end-to-end export with NMS inside"
        )
    names = _names(meta, source)
    if len(inputs) != 1:
        raise ModelError(f"{source}: expected 1 input (images), found {len(inputs)}")
    inp = inputs[0]
    if len(inp.shape) != 4 or inp.shape[1] not in (3, None):
        raise ModelError(f"{source}: expected input (batch, 3, H, W), found {inp.shape}")
    if inp.type not in DTYPES:
        raise ModelError(f"{source}: expected a float32 or float16 input, found {inp.type}")
    if not outputs:
        raise ModelError(f"{source}: the model has no output")
    if len(outputs) != 1:
        raise ModelError(
            f"{source}: expected 1 output (detection head), found {len(outputs)} "
            f"({', '.join(o.name for o in outputs)}): a segmentation or multi-head model?"
        )
    out = outputs[0]
    channels = 4 + len(names)
    if len(out.shape) != 3 or channels not in out.shape[1:]:
        raise ModelError(
            f"{source}: expected output (batch, 4 + {len(names)} classes, anchors) = "
            f"(b, {channels}, n), found {out.shape}"
        )
    if out.type not in DTYPES:
        raise ModelError(f"{source}: expected a float output, found {out.type}")
    stride = int(meta.get("stride", "32")) if meta.get("stride", "32").isdigit() else 32
    imgsz = _imgsz(meta, source)
    hw = (inp.shape[2], inp.shape[3])
    if hw[0] is not None and hw[1] is not None:
        if input_size is not None and (input_size, input_size) != hw:
            raise ModelError(
                f"{source}: the model's input is fixed at {hw[0]}x{hw[1]}; "
                f"input_size {input_size} needs a dynamic export"
            )
        imgsz = (hw[0], hw[1])
    elif input_size is not None:
        if input_size % stride:
            raise ModelError(f"{source}: input_size {input_size} is not a multiple of {stride}")
        imgsz = (input_size, input_size)
    if imgsz is None:
        raise ModelError(f"{source}: dynamic input size and no metadata 'imgsz': set input_size")
    return ModelInfo(
        names=names,
        stride=stride,
        imgsz=imgsz,
        task=task,
        input=inp,
        output=out,
        input_dtype=DTYPES[inp.type],
        batch=inp.shape[0],
        transposed=out.shape[1] != channels,
        extra=dict(meta),
    )
