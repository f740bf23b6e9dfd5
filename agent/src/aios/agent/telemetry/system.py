"""What the device itself reports: CPU, memory, temperature (where readable)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import psutil

THERMAL_ZONES = Path("/sys/class/thermal")


@dataclass(frozen=True, slots=True)
class SystemSample:
    cpu_percent: float
    mem_rss_mb: float
    mem_percent: float
    temperature_c: float | None


def read_temperature(root: Path = THERMAL_ZONES) -> float | None:
    """The hottest sensor psutil knows, else the hottest ``thermal_zone``; ``None`` if none."""
    readings: list[float] = []
    sensors = getattr(psutil, "sensors_temperatures", None)
    if sensors is not None:
        try:
            for entries in sensors().values():
                readings.extend(e.current for e in entries if e.current and e.current > -40)
        except (OSError, RuntimeError):
            pass
    if not readings:
        for zone in sorted(root.glob("thermal_zone*/temp")):
            try:
                readings.append(int(zone.read_text().strip()) / 1000.0)
            except (OSError, ValueError):
                continue
    return round(max(readings), 1) if readings else None


class SystemProbe:
    """Samples this process and the machine; ``cpu_percent`` is system-wide since last call."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._started = time.monotonic()
        psutil.cpu_percent(interval=None)  # prime the counter

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self._started

    def sample(self) -> SystemSample:
        return SystemSample(
            cpu_percent=float(psutil.cpu_percent(interval=None)),
            mem_rss_mb=round(self._process.memory_info().rss / 2**20, 1),
            mem_percent=float(psutil.virtual_memory().percent),
            temperature_c=read_temperature(),
        )
