"""The YOLOv8 detector: one ONNX model, one preallocated input, frames in, detections out.

>>> detector = Detector.load("yolov8n.onnx", conf=0.25, iou=0.7)  # doctest: +SKIP
>>> detections = detector.detect(frame_bgr)  # boxes in frame pixels  # doctest: +SKIP

Class names, input size, stride and task come from the model's Ultralytics metadata; a model
that is not a YOLOv8 detector is refused at load. The hot path (:meth:`Detector.detect`) does
a letterbox into the reused input tensor, one IO-bound run, and a masked decode.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from aios.agent.detections import Detections
from aios.agent.environment import AgentEnvironment
from aios.agent.errors import ConfigError, InputError
from aios.agent.inference.decode import DecodeParams, decode
from aios.agent.inference.letterbox import Letterboxer, LetterboxGeometry, as_bgr_uint8
from aios.agent.inference.metadata import ModelInfo, read_model_info
from aios.agent.inference.session import (
    BoundRunner,
    ThreadSettings,
    open_session,
    session_metadata,
    session_specs,
)
from aios.shared.pipeline.nodes import DetectParams


def class_mask(
    names: Sequence[str], classes: Sequence[str | int] | None
) -> npt.NDArray[np.bool_] | None:
    """A per-class keep mask from labels or ids; unknown ones raise :class:`ConfigError`."""
    if classes is None:
        return None
    mask = np.zeros(len(names), np.bool_)
    index = {name: i for i, name in enumerate(names)}
    for item in classes:
        if isinstance(item, int) and 0 <= item < len(names):
            mask[item] = True
        elif isinstance(item, str) and item in index:
            mask[index[item]] = True
        else:
            raise ConfigError(
                f"classes: {item!r} is not a class of this model "
                f"(it has {len(names)}: {', '.join(names[:8])}{', ...' if len(names) > 8 else ''})"
            )
    return mask


class Detector:
    """A loaded YOLOv8 detection model. Not thread-safe: one detector per inference thread."""

    def __init__(
        self, runner: BoundRunner, info: ModelInfo, provider: str, params: DecodeParams
    ) -> None:
        self._runner = runner
        self.info = info
        self._provider = provider
        self.params = params
        h, w = info.imgsz
        batch = info.batch or 1
        dtype = np.float16 if info.input_dtype == "float16" else np.float32
        self._letterbox = Letterboxer(h, w, batch=batch, dtype=dtype)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        provider: str = "auto",
        conf: float = 0.25,
        iou: float = 0.7,
        classes: Sequence[str | int] | None = None,
        max_det: int = 300,
        input_size: int | None = None,
        intra_op_threads: int | None = None,
        spinning: bool = True,
        trt_cache: Path | None = None,
    ) -> Detector:
        """Load and check a model; pick the execution provider (``auto``: best available).
        TensorRT engines are kept in ``trt_cache`` (default: ``trt/`` in the default cache)."""
        if not 0 <= conf <= 1 or not 0 <= iou <= 1:
            raise ConfigError(f"conf and iou must be in [0, 1], got conf={conf} iou={iou}")
        if max_det < 1:
            raise ConfigError(f"max_det must be at least 1, got {max_det}")
        model = Path(path)
        threads = ThreadSettings(intra_op=intra_op_threads, spinning=spinning)
        session, used = open_session(
            model,
            provider=provider,
            threads=threads,
            cache_root=trt_cache or AgentEnvironment().cache_root / "trt",
        )
        inputs, outputs = session_specs(session)
        info = read_model_info(session_metadata(session), inputs, outputs, str(model), input_size)
        out_dtype = np.float16 if outputs[0].type == "tensor(float16)" else np.float32
        runner = BoundRunner(session, info.input, info.output, out_dtype)
        params = DecodeParams(
            conf=conf, iou=iou, max_det=max_det, class_mask=class_mask(info.names, classes)
        )
        return cls(runner, info, used, params)

    @classmethod
    def from_params(
        cls,
        params: DetectParams,
        model_path: str | os.PathLike[str],
        *,
        intra_op_threads: int | None = None,
        spinning: bool = False,
        trt_cache: Path | None = None,
    ) -> Detector:
        """Build from a pipeline's detect node. Spinning is off by default: in a pipeline,
        capture and the other nodes share the CPU with inference."""
        return cls.load(
            model_path,
            provider=params.provider,
            conf=params.conf,
            iou=params.iou,
            classes=params.classes,
            max_det=params.max_det,
            input_size=params.input_size,
            intra_op_threads=intra_op_threads,
            spinning=spinning,
            trt_cache=trt_cache,
        )

    @property
    def names(self) -> list[str]:
        return list(self.info.names)

    @property
    def provider(self) -> str:
        """The execution provider in use: ``tensorrt``, ``cuda``, ``openvino`` or ``cpu``."""
        return self._provider

    @property
    def input_tensor(self) -> npt.NDArray[np.floating]:
        """The preallocated network input ``(batch, 3, H, W)`` (for benchmarks and tests)."""
        return self._letterbox.tensor

    @property
    def batch_size(self) -> int:
        """Frames per run: the model's fixed batch; for a dynamic batch model, the largest batch
        run so far (1 until :meth:`detect_batch` gets more frames)."""
        return int(self._letterbox.tensor.shape[0])

    def detect(self, frame: npt.NDArray[np.generic]) -> Detections:
        """Detections in ``frame`` (HxWx3 BGR uint8, see :func:`as_bgr_uint8`), source pixels."""
        geometry = self.prepare(frame)
        if self.info.batch is None:
            tensor = self._letterbox.tensor[:1]
        else:
            for slot in range(1, self.batch_size):
                self._letterbox.clear(slot)
            tensor = self._letterbox.tensor
        return self.decode_output(self._runner.run(tensor), geometry)

    def prepare(self, frame: npt.NDArray[np.generic]) -> LetterboxGeometry:
        """Check ``frame`` and letterbox it into :attr:`input_tensor` slot 0 (detect's first
        half, exposed for benchmarks)."""
        return self._letterbox(as_bgr_uint8(frame), 0)

    def decode_output(
        self, output: npt.NDArray[np.floating], geometry: LetterboxGeometry, index: int = 0
    ) -> Detections:
        """Decode image ``index`` of a raw model output (detect's second half)."""
        head = output[index].T if self.info.transposed else output[index]
        return decode(head, geometry, self.params)

    def detect_batch(self, frames: Sequence[npt.NDArray[np.generic]]) -> list[Detections]:
        """Detections for several frames, run ``batch_size`` at a time (dynamic batch models
        run all of them at once)."""
        if self.info.batch is None and len(frames) > self.batch_size:
            h, w = self.info.imgsz
            dtype = self._letterbox.tensor.dtype.type
            self._letterbox = Letterboxer(h, w, batch=len(frames), dtype=dtype)
        results: list[Detections] = []
        step = self.batch_size
        for start in range(0, len(frames), step):
            chunk = [as_bgr_uint8(f) for f in frames[start : start + step]]
            geometries = [self._letterbox(image, i) for i, image in enumerate(chunk)]
            if self.info.batch is None:
                tensor = self._letterbox.tensor[: len(chunk)]
            else:
                for slot in range(len(chunk), step):
                    self._letterbox.clear(slot)
                tensor = self._letterbox.tensor
            output = self._runner.run(tensor)
            results.extend(self.decode_output(output, g, i) for i, g in enumerate(geometries))
        return results

    def run_raw(self, tensor: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
        """Plain ``session.run`` on a prepared tensor: the network alone, for benchmarks."""
        if tensor.shape[1:] != self._letterbox.tensor.shape[1:]:
            raise InputError(f"expected a tensor of shape {self._letterbox.tensor.shape}")
        return self._runner.run_plain(tensor)
