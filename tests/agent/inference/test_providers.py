"""Execution provider order and the TensorRT engine cache key."""

from __future__ import annotations

from pathlib import Path

import pytest

from aios.agent.errors import ConfigError
from aios.agent.inference.providers import (
    intel_cpu,
    provider_chain,
    short_name,
    tensorrt_cache_dir,
)

ALL = [
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "OpenVINOExecutionProvider",
    "CPUExecutionProvider",
]


@pytest.mark.parametrize(
    ("requested", "available", "chain"),
    [
        ("auto", ALL, ["tensorrt", "cuda", "openvino", "cpu"]),
        ("auto", ["CPUExecutionProvider", "CUDAExecutionProvider"], ["cuda", "cpu"]),
        ("auto", ["AzureExecutionProvider", "CPUExecutionProvider"], ["cpu"]),
        ("cuda", ALL, ["cuda", "openvino", "cpu"]),  # an override starts the chain there
        ("cpu", ALL, ["cpu"]),
        ("tensorrt", ["CPUExecutionProvider"], ["cpu"]),  # missing: fall back to CPU
        ("openvino", [], ["cpu"]),
    ],
)
def test_provider_chain(requested: str, available: list[str], chain: list[str]) -> None:
    assert provider_chain(requested, available) == chain


@pytest.mark.parametrize(
    ("requested", "intel", "chain"),
    [
        ("auto", True, ["openvino", "cpu"]),  # measured faster on Intel: the default there
        ("auto", False, ["cpu"]),  # elsewhere (AMD, Arm) only when asked for
        ("openvino", False, ["openvino", "cpu"]),
    ],
)
def test_openvino_is_chosen_by_auto_only_on_intel(
    requested: str, intel: bool, chain: list[str]
) -> None:
    available = ["OpenVINOExecutionProvider", "CPUExecutionProvider"]
    assert provider_chain(requested, available, intel=intel) == chain


@pytest.mark.parametrize(
    ("cpuinfo", "intel"),
    [
        ("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)\n", True),
        ("processor\t: 0\nvendor_id\t: AuthenticAMD\n", False),
        ("processor\t: 0\nBogoMIPS\t: 48.00\nCPU implementer\t: 0x41\n", False),  # arm64
    ],
)
def test_intel_cpu(tmp_path: Path, cpuinfo: str, intel: bool) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    assert intel_cpu(path) is intel
    assert intel_cpu(tmp_path / "absent") is False


def test_unknown_provider_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="provider: expected auto or one of"):
        provider_chain("tpu", ALL)


@pytest.mark.parametrize(
    ("ort_name", "short"),
    [
        ("CUDAExecutionProvider", "cuda"),
        ("CPUExecutionProvider", "cpu"),
        ("AzureExecutionProvider", "azure"),
    ],
)
def test_short_names(ort_name: str, short: str) -> None:
    assert short_name(ort_name) == short


def test_engine_cache_is_keyed_by_model_hash(tmp_path: Path) -> None:
    a = tensorrt_cache_dir(tmp_path, "a" * 64)
    b = tensorrt_cache_dir(tmp_path, "b" * 64)
    assert a != b
    assert a.parent == tmp_path
    assert a.name.startswith("a" * 16 + "-")
    assert "-trt" in a.name
