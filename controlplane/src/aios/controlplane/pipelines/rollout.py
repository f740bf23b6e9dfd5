"""Staged rollouts: a canary share of the devices first, the rest only once it proved healthy.

:meth:`DeploymentService.execute` with a canary plan sends the config to ``ceil(share * n)``
devices (chosen by a stable hash of deployment and device ids) and leaves the other targets
``waiting``. :func:`advance_rollouts` then moves each deployment in the ``canary`` stage:

- a canary device reported ``rejected``, ``failed`` or ``rolled_back``: the deployment is
  ``aborted``, the waiting targets ``cancelled``, and each canary device gets back the config of
  its previous applied deployment (or an empty retained message when it had none);
- every canary device ``applied`` at least ``healthy_for_s`` ago and none is offline: the
  config goes to the waiting devices and the deployment becomes ``full``;
- every canary target was superseded by a newer deployment: ``aborted``, nothing sent;
- otherwise it waits.

It runs on a plain connection, as a scheduler job body (every few seconds, once across
replicas: see :func:`rollout_job`) and from ``POST .../deployments/{id}/advance``. Publishing
happens before the transaction commits, so a broker failure leaves the step to the next run.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec
from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aios.controlplane.db.models import (
    Deployment,
    DeploymentTarget,
    Device,
    DeviceState,
    PipelineVersion,
    TargetStatus,
)
from aios.controlplane.db.models.pipelines import DeploymentStage
from aios.controlplane.pipelines.publisher import ConfigPublisher, DesiredConfig
from aios.controlplane.pipelines.target_status import expire
from aios.shared.messages import PipelineConfig
from aios.shared.pipeline import decode_pipeline

ROLLOUT_JOB = "pipeline_rollouts"
_BAD = {TargetStatus.REJECTED.value, TargetStatus.FAILED.value, TargetStatus.ROLLED_BACK.value}


class RolloutStep(msgspec.Struct, frozen=True, kw_only=True):
    deployment_id: str
    action: Literal["promoted", "aborted", "waiting"]
    reason: str


def pick_canary(deployment_id: str, device_ids: Iterable[str], share: float) -> set[str]:
    """``ceil(share * n)`` devices (at least one), stable for a given deployment."""
    ordered = sorted(
        device_ids, key=lambda d: hashlib.sha256(f"{deployment_id}/{d}".encode()).digest()
    )
    count = max(1, math.ceil(share * len(ordered)))
    return set(ordered[:count])


async def config_of(conn: AsyncConnection, deployment_id: str) -> PipelineConfig:
    row = (
        await conn.execute(
            select(Deployment.pipeline_id, Deployment.version, PipelineVersion.spec)
            .join(
                PipelineVersion,
                (PipelineVersion.pipeline_id == Deployment.pipeline_id)
                & (PipelineVersion.version == Deployment.version),
            )
            .where(Deployment.id == deployment_id)
        )
    ).one()
    return PipelineConfig(
        pipeline_id=row.pipeline_id,
        version=row.version,
        spec=decode_pipeline(row.spec),
        issued_at=time.time(),
        deployment_id=deployment_id,
    )


Decision = Literal["promote", "abort"]


async def advance_rollouts(
    conn: AsyncConnection,
    publisher: ConfigPublisher,
    *,
    deployment_id: str | None = None,
    now: datetime | None = None,
    decision: Decision | None = None,
) -> list[RolloutStep]:
    """Advance every deployment in the canary stage (or just ``deployment_id``).

    ``decision`` is an operator's: ``promote`` sends the rest now without waiting for the
    canary's health period (a failed canary still aborts), ``abort`` rolls the canary back."""
    now = now or datetime.now(UTC)
    query = select(Deployment).where(Deployment.stage == DeploymentStage.CANARY.value)
    if deployment_id is not None:
        query = query.where(Deployment.id == deployment_id)
    steps = []
    for deployment in (await conn.execute(query)).all():
        steps.append(await _advance(conn, publisher, deployment, now, decision))
    return steps


async def _advance(
    conn: AsyncConnection,
    publisher: ConfigPublisher,
    d: Row[Any],
    now: datetime,
    decision: Decision | None = None,
) -> RolloutStep:
    targets = (
        await conn.execute(
            select(DeploymentTarget, Device.status.label("device_status"))
            .join(Device, Device.id == DeploymentTarget.device_id)
            .where(DeploymentTarget.deployment_id == d.id)
        )
    ).all()
    canary = [t for t in targets if t.canary]
    if canary and all(t.status == TargetStatus.SUPERSEDED.value for t in canary):
        reason = "superseded by a newer deployment"  # its devices got another config
        await _set_stage(conn, d.id, DeploymentStage.ABORTED, reason, now)
        return RolloutStep(deployment_id=d.id, action="aborted", reason=reason)
    bad = [t for t in canary if t.status in _BAD]
    if bad or decision == "abort":
        reason = (
            f"canary device {bad[0].device_id} reported {bad[0].status}"
            if bad
            else "aborted by an operator"
        )
        rollback = [
            (d.org_id, t.device_id, await _previous_config(conn, d, t.device_id)) for t in canary
        ]
        await _set_stage(conn, d.id, DeploymentStage.ABORTED, reason, now)
        await _set_targets(conn, d.id, TargetStatus.WAITING, TargetStatus.CANCELLED, now)
        await publisher.publish_desired(rollback)
        return RolloutStep(deployment_id=d.id, action="aborted", reason=reason)
    healthy_since = now - timedelta(seconds=d.healthy_for_s or 0)
    waiting_for = [
        t.device_id
        for t in canary
        if t.status != TargetStatus.APPLIED.value
        or t.reported_at is None
        or t.reported_at > healthy_since
        or t.device_status == DeviceState.OFFLINE.value
    ]
    if waiting_for and decision != "promote":
        reason = f"{len(waiting_for)} canary device(s) not applied and healthy yet"
        return RolloutStep(deployment_id=d.id, action="waiting", reason=reason)
    config = await config_of(conn, d.id)
    rest: list[DesiredConfig] = [
        (d.org_id, t.device_id, config) for t in targets if t.status == TargetStatus.WAITING.value
    ]
    reason = (
        "promoted by an operator"
        if decision == "promote"
        else f"canary healthy for {d.healthy_for_s or 0} s"
    )
    await _set_stage(conn, d.id, DeploymentStage.FULL, reason, now)
    await _set_targets(conn, d.id, TargetStatus.WAITING, TargetStatus.PENDING, now)
    await publisher.publish_desired(rest)
    return RolloutStep(deployment_id=d.id, action="promoted", reason=reason)


async def _previous_config(
    conn: AsyncConnection, d: Row[Any], device_id: str
) -> PipelineConfig | None:
    previous = await conn.scalar(
        select(Deployment.id)
        .join(DeploymentTarget, DeploymentTarget.deployment_id == Deployment.id)
        .where(
            Deployment.org_id == d.org_id,
            Deployment.id != d.id,
            Deployment.created_at <= d.created_at,
            DeploymentTarget.device_id == device_id,
            DeploymentTarget.status == TargetStatus.APPLIED.value,
        )
        .order_by(Deployment.created_at.desc())
        .limit(1)
    )
    return None if previous is None else await config_of(conn, previous)


async def _set_stage(
    conn: AsyncConnection, deployment_id: str, stage: DeploymentStage, reason: str, now: datetime
) -> None:
    await conn.execute(
        update(Deployment)
        .where(Deployment.id == deployment_id)
        .values(stage=stage.value, stage_reason=reason, updated_at=now)
    )


async def _set_targets(
    conn: AsyncConnection,
    deployment_id: str,
    old: TargetStatus,
    new: TargetStatus,
    now: datetime,
) -> None:
    await conn.execute(
        update(DeploymentTarget)
        .where(
            DeploymentTarget.deployment_id == deployment_id,
            DeploymentTarget.status == old.value,
        )
        .values(status=new.value, updated_at=now)
    )


def rollout_job(
    publisher: ConfigPublisher, answer_timeout_s: float
) -> Callable[[AsyncConnection], Awaitable[object]]:
    """The scheduler job body (``Job(ROLLOUT_JOB, 5.0, rollout_job(publisher, timeout))``): it
    advances the rollouts and expires the targets left unanswered for ``answer_timeout_s``."""

    async def run(conn: AsyncConnection) -> object:
        steps = await advance_rollouts(conn, publisher)
        await expire(conn, answer_timeout_s)
        return steps

    return run
