"""ORM models of the control plane; importing this package registers every table.

A domain adding a model adds its module here and an Alembic revision for it.
"""

from aios.controlplane.db.models.devices import Device, DeviceState
from aios.controlplane.db.models.organizations import Organization
from aios.controlplane.db.models.telemetry import (
    DeadLetter,
    Detection,
    DetectionBatchRecord,
    IngestState,
)

__all__ = [
    "DeadLetter",
    "Detection",
    "DetectionBatchRecord",
    "Device",
    "DeviceState",
    "IngestState",
    "Organization",
]
