"""ORM models of the control plane; importing this package registers every table.

A domain adding a model adds its module here and an Alembic revision for it.
"""

from aios.controlplane.db.models.accounts import Invitation, RefreshToken, Role, User
from aios.controlplane.db.models.acknowledgements import EventAcknowledgement
from aios.controlplane.db.models.devices import Device, DeviceState, DeviceTombstone
from aios.controlplane.db.models.events import EventRecord, PipelineReportRecord
from aios.controlplane.db.models.fleet import DeviceCredential, EnrollmentToken
from aios.controlplane.db.models.heartbeats import HeartbeatRollup1h, HeartbeatSample
from aios.controlplane.db.models.ingest_ack import IngestAckState
from aios.controlplane.db.models.jobs import JobRun
from aios.controlplane.db.models.live import LiveMessageRecord
from aios.controlplane.db.models.notifications import Webhook, WebhookDelivery
from aios.controlplane.db.models.organizations import Organization
from aios.controlplane.db.models.pipelines import (
    Deployment,
    DeploymentTarget,
    Pipeline,
    PipelineVersion,
    TargetStatus,
)
from aios.controlplane.db.models.presence import DevicePresence, DeviceStatusChange
from aios.controlplane.db.models.rollups import (
    DetectionCount1h,
    DetectionCount1m,
    DetectionZoneCount1h,
    DetectionZoneCount1m,
)
from aios.controlplane.db.models.telemetry import (
    DeadLetter,
    Detection,
    DetectionBatchRecord,
    IngestState,
)

__all__ = [
    "DeadLetter",
    "Deployment",
    "DeploymentTarget",
    "Detection",
    "DetectionBatchRecord",
    "DetectionCount1h",
    "DetectionCount1m",
    "DetectionZoneCount1h",
    "DetectionZoneCount1m",
    "Device",
    "DeviceCredential",
    "DevicePresence",
    "DeviceState",
    "DeviceStatusChange",
    "DeviceTombstone",
    "EnrollmentToken",
    "EventAcknowledgement",
    "EventRecord",
    "HeartbeatRollup1h",
    "HeartbeatSample",
    "IngestAckState",
    "IngestState",
    "Invitation",
    "JobRun",
    "LiveMessageRecord",
    "Organization",
    "Pipeline",
    "PipelineReportRecord",
    "PipelineVersion",
    "RefreshToken",
    "Role",
    "TargetStatus",
    "User",
    "Webhook",
    "WebhookDelivery",
]
