"""The ONNX Runtime boundary: open a session with provider fallback, run it with IO binding.

Every ``onnxruntime`` call of the agent goes through here, and every ONNX Runtime error is
translated here into :class:`ModelError` (model cannot load or run) or :class:`InputError`.
A provider that fails to initialise (missing CUDA libraries, no GPU, a TensorRT build error)
is logged as a warning and the next one in the chain is tried.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from aios.agent.errors import ModelError
from aios.agent.inference.metadata import TensorSpec, tensor_spec
from aios.agent.inference.providers import (
    ORT_NAMES,
    ProviderName,
    intel_cpu,
    provider_chain,
    provider_options,
    short_name,
)

log = logging.getLogger(__name__)


def _ort_errors() -> tuple[type[BaseException], ...]:
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    names = (
        "Fail",
        "InvalidArgument",
        "NoSuchFile",
        "NoModel",
        "EngineError",
        "RuntimeException",
        "InvalidProtobuf",
        "ModelLoaded",
        "NotImplemented",
        "InvalidGraph",
        "EPFail",
    )
    found = tuple(getattr(state, n) for n in names if isinstance(getattr(state, n, None), type))
    return (*found, RuntimeError, ValueError)


ORT_ERRORS = _ort_errors()


@dataclass(frozen=True, slots=True)
class ThreadSettings:
    """CPU threading. ``intra_op`` ``None`` lets ONNX Runtime use one thread per physical core;
    ``spinning`` keeps idle threads busy-waiting (lowest latency; turn it off when capture or
    other work runs beside inference on a small device)."""

    intra_op: int | None = None
    spinning: bool = True


def available_providers() -> list[str]:
    """Short names of the providers this ONNX Runtime build offers (``cpu``, ``cuda`` ...)."""
    return [short_name(p) for p in ort.get_available_providers()]


def _options(threads: ThreadSettings) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    if threads.intra_op is not None:
        options.intra_op_num_threads = threads.intra_op
    options.inter_op_num_threads = 1
    if not threads.spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def open_session(
    path: Path,
    *,
    provider: str,
    threads: ThreadSettings,
    cache_root: Path,
) -> tuple[ort.InferenceSession, ProviderName]:
    """Open ``path`` on the best provider of the chain that initialises; also its short name."""
    if not path.is_file():
        raise ModelError(f"model not found: {path}")
    chain = provider_chain(provider, ort.get_available_providers(), intel=intel_cpu())
    if provider not in ("auto", chain[0]):
        log.warning("provider %s is not in this onnxruntime build; using %s", provider, chain[0])
    options = _options(threads)
    last_error: BaseException | None = None
    for name in chain:
        try:
            opts = provider_options(name, path, cache_root)
            providers: list[tuple[str, dict[str, str]] | str] = [(ORT_NAMES[name], opts)]
            if name != "cpu":
                providers.append(ORT_NAMES["cpu"])
            session = ort.InferenceSession(str(path), options, providers=providers)
        except ORT_ERRORS as exc:
            if _is_model_fault(exc):
                raise ModelError(f"{path}: not a loadable ONNX model ({_first_line(exc)})") from exc
            log.warning("provider %s failed to initialise (%s); trying the next", name, exc)
            last_error = exc
            continue
        except OSError as exc:
            log.warning("provider %s failed to initialise (%s); trying the next", name, exc)
            last_error = exc
            continue
        used = short_name(session.get_providers()[0])
        if used != name:
            log.warning("provider %s did not initialise; onnxruntime chose %s", name, used)
            if used != "cpu" or name == "cpu":
                return session, used  # type: ignore[return-value]
            continue
        return session, name
    raise ModelError(f"{path}: no execution provider could load the model ({last_error})")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _is_model_fault(exc: BaseException) -> bool:
    """An error about the file itself (corrupt, truncated, invalid graph), not the provider."""
    text = str(exc).lower()
    markers = (
        "protobuf",
        "invalid model",
        "load model",
        "invalid_graph",
        "no_model",
        "model_path",
        "failed to load model",
        "nosuchfile",
        "invalid graph",
    )
    return type(exc).__name__ in (
        "InvalidProtobuf",
        "InvalidGraph",
        "NoModel",
        "NoSuchFile",
    ) or any(m in text for m in markers)


def session_specs(session: ort.InferenceSession) -> tuple[list[TensorSpec], list[TensorSpec]]:
    inputs = [tensor_spec(i.name, i.shape, i.type) for i in session.get_inputs()]
    outputs = [tensor_spec(o.name, o.shape, o.type) for o in session.get_outputs()]
    return inputs, outputs


def session_metadata(session: ort.InferenceSession) -> dict[str, str]:
    return dict(session.get_modelmeta().custom_metadata_map)


class BoundRunner:
    """Runs one input buffer through the session with IO binding.

    The input is bound in place (no copy on CPU, one host-to-device copy on GPU providers); the
    output goes into a preallocated host array when its shape is static, so a run allocates
    nothing on the Python side.
    """

    def __init__(
        self,
        session: ort.InferenceSession,
        input_spec: TensorSpec,
        output_spec: TensorSpec,
        output_dtype: type[np.floating],
    ) -> None:
        self._session = session
        self._input = input_spec
        self._output = output_spec
        self._output_dtype = output_dtype
        self._binding = session.io_binding()
        self._bound: tuple[int, tuple[int, ...]] | None = None
        self._out: npt.NDArray[np.floating] | None = None

    def _bind(self, tensor: npt.NDArray[np.floating]) -> None:
        key = (tensor.ctypes.data, tensor.shape)
        if self._bound == key:
            return
        b = self._binding
        b.clear_binding_inputs()
        b.clear_binding_outputs()
        b.bind_input(
            self._input.name, "cpu", 0, tensor.dtype, list(tensor.shape), tensor.ctypes.data
        )
        shape = self._output.shape
        if all(d is not None for d in shape[1:]) and (shape[0] in (None, tensor.shape[0])):
            out_shape = (tensor.shape[0], *(d for d in shape[1:] if d is not None))
            self._out = np.empty(out_shape, self._output_dtype)
            b.bind_output(
                self._output.name, "cpu", 0, self._out.dtype, list(out_shape), self._out.ctypes.data
            )
        else:
            self._out = None
            b.bind_output(self._output.name, "cpu")
        self._bound = key

    def run(self, tensor: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
        """Run ``tensor`` (a C-contiguous buffer that outlives the runner); the raw output."""
        self._bind(tensor)
        try:
            self._session.run_with_iobinding(self._binding)
            if self._out is not None:
                return self._out
            result: npt.NDArray[np.floating] = self._binding.copy_outputs_to_cpu()[0]
        except ORT_ERRORS as exc:
            raise ModelError(f"inference failed: {_first_line(exc)}") from exc
        return result

    def run_plain(self, tensor: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
        """``session.run`` on ``tensor`` without binding: the raw baseline for benchmarks."""
        try:
            out: npt.NDArray[np.floating] = self._session.run(
                [self._output.name], {self._input.name: tensor}
            )[0]
        except ORT_ERRORS as exc:
            raise ModelError(f"inference failed: {_first_line(exc)}") from exc
        return out
