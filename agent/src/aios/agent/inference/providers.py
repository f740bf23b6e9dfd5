"""Execution providers: which to try, in what order, and with what options.

Best first: TensorRT, CUDA, OpenVINO, CPU. ``auto`` tries every provider this ONNX Runtime
build offers in that order (OpenVINO only on Intel processors); naming one (``cuda``) starts
the chain there, so a provider that is missing or fails to initialise falls back to the next
one (with a warning, see :mod:`aios.agent.inference.session`). TensorRT keeps its built
engines on disk, in a folder keyed by the model's sha256, the GPU's name and the TensorRT
version, so an engine is never reused for another model, GPU or TensorRT.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.metadata
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from aios.agent.errors import ConfigError

ProviderName = Literal["tensorrt", "cuda", "openvino", "cpu"]
ORDER: tuple[ProviderName, ...] = ("tensorrt", "cuda", "openvino", "cpu")
ORT_NAMES: dict[ProviderName, str] = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
GPU_PROVIDERS: frozenset[ProviderName] = frozenset({"tensorrt", "cuda"})


def short_name(ort_name: str) -> str:
    """``CUDAExecutionProvider`` -> ``cuda`` (unknown names are returned lower-cased)."""
    for short, full in ORT_NAMES.items():
        if full == ort_name:
            return short
    return ort_name.removesuffix("ExecutionProvider").lower()


def intel_cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this machine's processor is an Intel one (``vendor_id: GenuineIntel``)."""
    try:
        with cpuinfo.open(errors="replace") as fh:
            for line in fh:
                if line.startswith("vendor_id"):
                    return "GenuineIntel" in line
    except OSError:
        pass
    return False


def provider_chain(
    requested: str, available: Sequence[str], *, intel: bool = True
) -> list[ProviderName]:
    """Providers to try, best first, given ONNX Runtime's ``get_available_providers()``.

    ``auto`` takes OpenVINO only on an Intel processor (``intel``), where it was measured
    faster than the CPU provider (see the README's performance table); elsewhere it must be
    asked for by name.
    """
    if requested == "auto":
        start = 0
        if not intel:
            available = [p for p in available if p != ORT_NAMES["openvino"]]
    elif requested in ORT_NAMES:
        start = ORDER.index(requested)
    else:
        raise ConfigError(
            f"provider: expected auto or one of {', '.join(ORDER)}, got {requested!r}"
        )
    chain = [p for p in ORDER[start:] if ORT_NAMES[p] in available]
    if "cpu" not in chain:
        chain.append("cpu")
    return chain


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def gpu_name() -> str:
    """The GPU's name (``nvidia-smi``, or the Jetson board model), or ``unknown-gpu``."""
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run(
                [smi, "--query-gpu=name", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
            if out:
                return out.splitlines()[0]
        except (OSError, subprocess.SubprocessError):
            pass
    model = Path("/proc/device-tree/model")
    try:
        return model.read_text(errors="replace").strip("\x00\n ") or "unknown-gpu"
    except OSError:
        return "unknown-gpu"


def tensorrt_version() -> str:
    """The TensorRT version (the Python wheel, else ``libnvinfer``), or ``unknown``."""
    for dist in ("tensorrt", "tensorrt-cu12", "tensorrt-libs", "tensorrt-cu12-libs"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    for lib in ("libnvinfer.so", "libnvinfer.so.10", "libnvinfer.so.8"):
        try:
            number = int(ctypes.CDLL(lib).getInferLibVersion())
        except (OSError, AttributeError):
            continue
        major, rest = divmod(number, 1000 if number < 100000 else 10000)
        return f"{major}.{rest // 100}.{rest % 100}"
    return "unknown"


def tensorrt_cache_dir(cache_root: Path, model_sha256: str) -> Path:
    """``cache_root/<sha256[:16]>-<gpu>-trt<version>``: one engine folder per model, GPU, TRT."""
    gpu = re.sub(r"[^A-Za-z0-9.]+", "-", gpu_name()).strip("-").lower()
    return cache_root / f"{model_sha256[:16]}-{gpu}-trt{tensorrt_version()}"


def provider_options(name: ProviderName, model: Path, cache_root: Path) -> dict[str, str]:
    """ONNX Runtime options for ``name`` (TensorRT: engine and timing caches, fp16)."""
    if name == "tensorrt":
        folder = tensorrt_cache_dir(cache_root, file_sha256(model))
        folder.mkdir(parents=True, exist_ok=True)
        return {
            "trt_engine_cache_enable": "True",
            "trt_engine_cache_path": str(folder),
            "trt_timing_cache_enable": "True",
            "trt_timing_cache_path": str(folder),
            "trt_fp16_enable": "True",
        }
    return {}
