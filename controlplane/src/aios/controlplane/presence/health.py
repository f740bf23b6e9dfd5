"""Device health: what turns an online device's seed status from ``ON`` into ``WARNING``.

A device is *unhealthy* when its latest heartbeat shows one of these (each a warning, in the
``warnings`` of ``device_status_update``):

=========================== ================================================================
``camera_down:<stream_id>`` a camera stream is ``failed``, or down (``down_since`` set) and
                            reconnecting
``spool_dropping``          the spool dropped messages since the device's previous heartbeat
                            (its ``spool_dropped`` count grew: the disk budget is full)
``too_hot``                 ``temperature_c`` at or above :data:`TOO_HOT_C`
=========================== ================================================================

:class:`HealthTracker` keeps, per device, the warnings of its latest heartbeat and those last
announced; the presence sweep announces the difference (O(1) per heartbeat, no I/O, one entry
per device). ``spool_dropping`` needs two heartbeats of the same process, so a replica judges it
from the heartbeats it hears; ``/fleet/summary``, reading one stored heartbeat, judges cameras
and temperature only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from aios.shared.live import SeedStatus
from aios.shared.messages import Heartbeat

TOO_HOT_C = 85.0
"""Temperature (°C) from which a device is ``too_hot``: where Jetson and Raspberry Pi boards
start throttling their clocks."""

CAMERA_DOWN = "camera_down"
SPOOL_DROPPING = "spool_dropping"
TOO_HOT = "too_hot"


def warnings_of(heartbeat: Heartbeat, previous_dropped: int | None = None) -> tuple[str, ...]:
    """The warnings of ``heartbeat`` (``previous_dropped``: the device's ``spool_dropped`` in
    its previous heartbeat, ``None`` when unknown)."""
    found = [
        f"{CAMERA_DOWN}:{s.stream_id}"
        for s in heartbeat.streams
        if s.state == "failed" or s.down_since is not None
    ]
    if previous_dropped is not None and heartbeat.spool_dropped > previous_dropped:
        found.append(SPOOL_DROPPING)
    if heartbeat.temperature_c is not None and heartbeat.temperature_c >= TOO_HOT_C:
        found.append(TOO_HOT)
    return tuple(found)


def seed_status(presence: str, warnings: tuple[str, ...] | list[str] = ()) -> SeedStatus:
    """The seed's status of a device: ``OFF`` unless online, ``WARNING`` if online with
    warnings (or marked ``warning``/``maintenance`` by an operator), else ``ON``."""
    if presence in ("warning", "maintenance"):
        return "WARNING"
    if presence != "online":
        return "OFF"
    return "WARNING" if warnings else "ON"


def stored_seed_status(status: str, last_heartbeat: Mapping[str, Any] | None) -> SeedStatus:
    """The seed's status of a device row: its ``status`` and the warnings of its stored last
    heartbeat (cameras and temperature: one heartbeat cannot say the spool is dropping)."""
    warnings: tuple[str, ...] = ()
    if status == "online" and last_heartbeat:
        try:
            warnings = warnings_of(msgspec.convert(last_heartbeat, Heartbeat))
        except msgspec.ValidationError:
            warnings = ()  # a heartbeat stored by an older release: judged healthy
    return seed_status(status, warnings)


@dataclass(slots=True)
class _Health:
    org_id: str
    warnings: tuple[str, ...] = ()
    announced: tuple[str, ...] = ()
    spool_dropped: int | None = None
    at: float = 0.0


@dataclass(slots=True)
class HealthChange:
    org_id: str
    device_id: str
    previous: tuple[str, ...]
    warnings: tuple[str, ...]
    at: float


@dataclass(slots=True)
class HealthTracker:
    """Warnings per device, from the heartbeats this process hears (see the module)."""

    _devices: dict[str, _Health] = field(default_factory=dict)
    _changed: set[str] = field(default_factory=set)

    def observe(self, org_id: str, device_id: str, heartbeat: Heartbeat, at: float) -> None:
        h = self._devices.get(device_id)
        if h is None or h.org_id != org_id:
            h = self._devices[device_id] = _Health(org_id=org_id)
        previous = h.spool_dropped
        if previous is not None and heartbeat.spool_dropped < previous:
            previous = None  # the agent restarted: its count started again
        warnings = warnings_of(heartbeat, previous)
        h.spool_dropped = heartbeat.spool_dropped
        if warnings != h.warnings:
            h.warnings = warnings
            h.at = at
        if h.warnings != h.announced:
            self._changed.add(device_id)
        else:
            self._changed.discard(device_id)

    def warnings(self, device_id: str) -> tuple[str, ...]:
        h = self._devices.get(device_id)
        return h.warnings if h is not None else ()

    def announced(self, device_id: str) -> None:
        """The device's current warnings went out (with a presence change)."""
        h = self._devices.get(device_id)
        if h is not None:
            h.announced = h.warnings
        self._changed.discard(device_id)

    def changes(self) -> list[HealthChange]:
        """Devices whose warnings differ from those announced (marked announced)."""
        out = []
        for device_id in self._changed:
            h = self._devices.get(device_id)
            if h is None:
                continue
            out.append(HealthChange(h.org_id, device_id, h.announced, h.warnings, h.at))
            h.announced = h.warnings
        self._changed.clear()
        return out

    def forget(self, device_id: str) -> None:
        self._devices.pop(device_id, None)
        self._changed.discard(device_id)
