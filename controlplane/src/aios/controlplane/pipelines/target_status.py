"""How a deployment target moves: a device's report, or a newer deployment superseding it.

Every target ends terminal (:attr:`TargetStatus.terminal
<aios.controlplane.db.models.pipelines.TargetStatus.terminal>`):

- a device's report moves its target: ``applying`` (started, within the agent's grace period)
  only from ``pending``; a final report (``applied``, ``rejected``, ``failed``,
  ``rolled_back``) from ``pending`` or ``applying``, or again from the same final status (a
  redelivered report). A late report never revives a target that ended otherwise
  (``superseded``, ``cancelled``) nor turns one final status into another;
- :func:`supersede` ends, when a new deployment is executed for a device, that device's
  targets of older deployments which had not ended (``pending``, ``applying``, ``waiting``):
  ``superseded``, with the newer deployment named in ``error``. The retained ``cfg/desired`` of
  a device holds one config, so the older one will never be reported on.

Each move is told on the WebSocket (``pipeline_status_update``) in the caller's transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from aios.controlplane.db.models import Deployment, DeploymentTarget, TargetStatus
from aios.controlplane.live.outbox import publish_live
from aios.shared.live import PipelineStatusUpdate, pipeline_activity
from aios.shared.messages import PipelineReport

_OPEN = (TargetStatus.PENDING.value, TargetStatus.APPLYING.value, TargetStatus.WAITING.value)


def _movable_from(status: str) -> tuple[str, ...]:
    """The target statuses a report of ``status`` may move."""
    if status == TargetStatus.APPLYING.value:
        return (TargetStatus.PENDING.value,)
    return (TargetStatus.PENDING.value, TargetStatus.APPLYING.value, status)


async def record_report(
    session: AsyncSession | AsyncConnection, report: PipelineReport, org_id: str
) -> bool:
    """Apply a device's ``cfg/reported`` to its deployment target; True if one moved.

    Called by the ingest with the organization of the topic the report came on, on its own
    connection or session (the statements filter by ``org_id`` themselves, so no org-scoped
    session is needed). The target is the report's ``deployment_id`` when given, else the
    device's latest deployment of that pipeline version. The caller commits.
    """
    now = datetime.now(UTC)
    deployment_id = report.deployment_id
    if deployment_id is None:
        deployment_id = await session.scalar(
            select(Deployment.id)
            .join(DeploymentTarget, DeploymentTarget.deployment_id == Deployment.id)
            .where(
                Deployment.org_id == org_id,
                Deployment.pipeline_id == report.pipeline_id,
                Deployment.version == report.version,
                DeploymentTarget.device_id == report.device_id,
            )
            .order_by(Deployment.created_at.desc())
            .limit(1)
        )
        if deployment_id is None:
            return False
    matches = select(Deployment.id).where(
        Deployment.id == deployment_id,
        Deployment.org_id == org_id,
        Deployment.pipeline_id == report.pipeline_id,
        Deployment.version == report.version,
    )
    result = await session.execute(
        update(DeploymentTarget)
        .where(
            DeploymentTarget.deployment_id.in_(matches.scalar_subquery()),
            DeploymentTarget.device_id == report.device_id,
            DeploymentTarget.org_id == org_id,
            DeploymentTarget.status.in_(_movable_from(report.status)),
        )
        .values(
            status=TargetStatus(report.status).value,
            error=None if report.error is None else report.error[:1024],
            node=None if report.node is None else report.node[:64],
            field=None if report.field is None else report.field[:256],
            active_version=report.active_version,
            reported_at=now,  # the device's clock (report.ts) is not trusted
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        return False
    await publish_live(
        session,
        [
            PipelineStatusUpdate(
                org_id=org_id,
                device_id=report.device_id,
                pipeline_id=report.pipeline_id,
                deployment_id=deployment_id,
                version=report.version,
                status=pipeline_activity(report.status),
                deployment_status=report.status,
                error=report.error,
            )
        ],
    )
    return True


async def supersede(
    conn: AsyncConnection,
    org_id: str,
    newer: Deployment,
    device_ids: list[str],
) -> int:
    """End the older open targets of ``device_ids`` (see the module); how many ended."""
    now = datetime.now(UTC)
    target, deployment = DeploymentTarget, Deployment
    columns = (target.deployment_id, target.device_id, deployment.pipeline_id, deployment.version)
    older = (
        await conn.execute(
            select(*columns)
            .join(Deployment, Deployment.id == DeploymentTarget.deployment_id)
            .where(
                DeploymentTarget.org_id == org_id,
                DeploymentTarget.device_id.in_(device_ids),
                DeploymentTarget.deployment_id != newer.id,
                DeploymentTarget.status.in_(_OPEN),
            )
        )
    ).all()
    if not older:
        return 0
    reason = f"superseded by deployment {newer.id} (version {newer.version})"
    for row in older:
        await conn.execute(
            update(DeploymentTarget)
            .where(
                DeploymentTarget.deployment_id == row.deployment_id,
                DeploymentTarget.device_id == row.device_id,
                DeploymentTarget.status.in_(_OPEN),
            )
            .values(status=TargetStatus.SUPERSEDED.value, error=reason, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    await publish_live(
        conn,
        [
            PipelineStatusUpdate(
                org_id=org_id,
                device_id=row.device_id,
                pipeline_id=row.pipeline_id,
                deployment_id=row.deployment_id,
                version=row.version,
                status="inactive",
                deployment_status="superseded",
                error=reason,
            )
            for row in older
        ],
    )
    return len(older)
