"""GPU utilisation for the heartbeat, where the hardware tells it; ``None`` everywhere else.

- NVIDIA GPUs: NVML through ``pynvml`` (the ``nvidia-ml-py`` package, in the agent's ``gpu``
  extra), the percentage of the last sample period during which a kernel ran, averaged over
  the GPUs.
- Jetson: NVML is not there; ``tegrastats`` prints one line per interval whose ``GR3D_FREQ``
  field is the GPU's load. A reader thread keeps the newest value (:class:`TegrastatsProbe`).

A machine with neither reports no GPU utilisation at all, never a made-up 0. Nothing here
probes hardware at import time: :func:`detect_gpu` is called by the agent's composition root.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import subprocess
import threading
from types import ModuleType
from typing import Protocol

log = logging.getLogger(__name__)

TEGRASTATS_INTERVAL_MS = 1000

# `GR3D_FREQ 45%`, `GR3D_FREQ 0%@76`, `GR3D_FREQ 99%@[612]`, `GR3D_FREQ 0%@[0,0]` (one clock
# per GPC), `GR3D 12%@998` (older L4T). JetPack 7.0 on Thor prints `GR3D_FREQ @[314,314]`:
# clocks without a load, so no value.
_GR3D = re.compile(r"\bGR3D(?:_FREQ)?\s+(\d{1,3})%")


def parse_tegrastats(line: str) -> float | None:
    """The GPU load in percent from one ``tegrastats`` line, or ``None`` if it has none."""
    match = _GR3D.search(line)
    if match is None:
        return None
    value = float(match.group(1))
    return value if value <= 100 else None


class GpuProbe(Protocol):
    name: str

    def utilization(self) -> float | None:
        """The GPU's utilisation in percent now, or ``None`` when unknown."""
        ...

    def close(self) -> None: ...


class NvmlProbe:
    """Utilisation of every NVIDIA GPU through NVML, averaged."""

    name = "nvml"

    def __init__(self, nvml: ModuleType) -> None:
        self._nvml = nvml
        count = int(nvml.nvmlDeviceGetCount())
        self._handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]

    @classmethod
    def open(cls) -> NvmlProbe | None:
        """The probe, or ``None`` when ``pynvml`` is not installed, there is no NVIDIA driver
        or no GPU."""
        try:
            import pynvml  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            return None
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:  # no driver (libnvidia-ml), or not an NVIDIA machine
            log.debug("NVML unavailable: %s", exc)
            return None
        probe = cls(pynvml)
        if not probe._handles:
            probe.close()
            return None
        return probe

    def utilization(self) -> float | None:
        try:
            rates = [self._nvml.nvmlDeviceGetUtilizationRates(h).gpu for h in self._handles]
        except self._nvml.NVMLError as exc:  # a GPU fell off the bus, a driver reload
            log.warning("NVML utilisation unavailable: %s", exc)
            return None
        return round(sum(float(r) for r in rates) / len(rates), 1)

    def close(self) -> None:
        with contextlib.suppress(self._nvml.NVMLError):
            self._nvml.nvmlShutdown()


class TegrastatsProbe:
    """Runs ``tegrastats --interval 1000`` and keeps the newest GPU load it printed."""

    name = "tegrastats"

    def __init__(self, command: list[str]) -> None:
        self._latest: float | None = None
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self._thread = threading.Thread(target=self._read, name="tegrastats", daemon=True)
        self._thread.start()

    @classmethod
    def open(cls, executable: str | None = None) -> TegrastatsProbe | None:
        path = executable or shutil.which("tegrastats")
        if path is None:
            return None
        try:
            return cls([path, "--interval", str(TEGRASTATS_INTERVAL_MS)])
        except OSError as exc:
            log.warning("cannot run tegrastats: %s", exc)
            return None

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            value = parse_tegrastats(line)
            if value is not None:
                with self._lock:
                    self._latest = value

    def utilization(self) -> float | None:
        with self._lock:
            return self._latest if self._process.poll() is None else None

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._thread.join(timeout=2)
        if self._process.stdout is not None:
            self._process.stdout.close()


def detect_gpu() -> GpuProbe | None:
    """NVML where it answers, else ``tegrastats`` where it exists, else ``None``."""
    probe: GpuProbe | None = NvmlProbe.open()
    if probe is None:
        probe = TegrastatsProbe.open()
    if probe is not None:
        log.info("GPU utilisation from %s", probe.name)
    return probe
