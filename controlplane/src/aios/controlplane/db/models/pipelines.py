"""Pipelines, their immutable versions, and deployments of a version to devices.

A :class:`PipelineVersion` is written once and never updated (a mapper event refuses it);
``Pipeline.current_version`` points at the latest. A :class:`Deployment` sends one version to
a set of devices, all at once or staged (a canary share first, see
:mod:`aios.controlplane.pipelines.rollout`); each :class:`DeploymentTarget` follows one
device's ``cfg/reported`` status.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from aios.controlplane.db.base import AuditBase, JSONDocument
from aios.controlplane.db.models.organizations import new_identifier


class TargetStatus(str, enum.Enum):
    """Where one device is in a deployment: ``pending`` until the device answers, then what it
    reported (``applying`` during its grace period, then a terminal status), ``superseded``
    when a newer deployment to the device came before the end, or ``expired`` when the device
    never answered in time. Every target ends terminal."""

    PENDING = "pending"
    APPLYING = "applying"  # the device started it and watches it for its grace period
    APPLIED = "applied"
    REJECTED = "rejected"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    WAITING = "waiting"  # staged rollout: not sent yet (after the canary)
    CANCELLED = "cancelled"  # staged rollout: the canary failed, never sent
    SUPERSEDED = "superseded"  # a newer deployment to the device replaced it before it ended
    EXPIRED = "expired"  # no answer from the device within AIOS_DEPLOYMENT_TIMEOUT_S

    @property
    def terminal(self) -> bool:
        """Whether the target is done (nothing more will move it)."""
        return self not in (TargetStatus.PENDING, TargetStatus.APPLYING, TargetStatus.WAITING)


class DeploymentStage(str, enum.Enum):
    """``canary``: only the canary devices got the config; ``full``: every target did;
    ``aborted``: the canary failed and its devices were rolled back."""

    CANARY = "canary"
    FULL = "full"
    ABORTED = "aborted"


class Pipeline(AuditBase):
    __tablename__ = "pipelines"
    __table_args__ = (Index("ix_pipelines_org_id_name", "org_id", "name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_identifier)
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(String(2000), default="")
    current_version: Mapped[int] = mapped_column(Integer, default=1)


class PipelineVersion(AuditBase):
    __tablename__ = "pipeline_versions"
    __table_args__ = (UniqueConstraint("pipeline_id", "version"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_identifier)
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    pipeline_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("pipelines.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)


@event.listens_for(PipelineVersion, "before_update")
def _versions_are_immutable(*_: object) -> None:
    raise RuntimeError("pipeline versions are immutable: create a new version instead")


class Deployment(AuditBase):
    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_identifier)
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    pipeline_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("pipelines.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    selector: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)
    stage: Mapped[str] = mapped_column(String(16), default=DeploymentStage.FULL.value, index=True)
    canary_share: Mapped[float | None] = mapped_column(Float, default=None)
    healthy_for_s: Mapped[int | None] = mapped_column(Integer, default=None)
    stage_reason: Mapped[str | None] = mapped_column(String(1024), default=None)


class DeploymentTarget(AuditBase):
    __tablename__ = "deployment_targets"

    deployment_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=TargetStatus.PENDING.value)
    canary: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str | None] = mapped_column(String(1024), default=None)
    node: Mapped[str | None] = mapped_column(String(64), default=None)
    field: Mapped[str | None] = mapped_column(String(256), default=None)
    active_version: Mapped[int | None] = mapped_column(Integer, default=None)
    reported_at: Mapped[datetime | None] = mapped_column(default=None)
