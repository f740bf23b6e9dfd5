"""How a deployment target moves: a device's report, or a newer deployment superseding it.

Every target ends terminal (:attr:`TargetStatus.terminal
<aios.controlplane.db.models.pipelines.TargetStatus.terminal>`):

- a device's report moves its target: ``applying`` (started, within the agent's grace period)
  only from ``pending``; a final report (``applied``, ``rejected``, ``failed``,
  ``rolled_back``) from ``pending`` or ``applying``, or again from the same final status (a
  redelivered report). A late report never revives a target that ended otherwise
  (``superseded``, ``cancelled``) nor turns one final status into another;
- :func:`expire` ends the targets still ``pending`` or ``applying`` after the answer timeout
  (``AIOS_DEPLOYMENT_TIMEOUT_S``, a day by default: a device that never came back):
  ``expired``. A device answering later is still recorded (its final report moves an expired
  target: it says what the device really runs);
- :func:`supersede` ends, when a new deployment is executed for a device, that device's
  targets of older deployments which had not ended (``pending``, ``applying``, ``waiting``):
  ``superseded``, with the newer deployment named in ``error``. The retained ``cfg/desired`` of
  a device holds one config, so the older one will never be reported on.

Each move is told on the WebSocket (``pipeline_status_update``) in the caller's transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from aios.controlplane.db.models import Deployment, DeploymentTarget, TargetStatus
from aios.controlplane.db.scoped_session import scope_options
from aios.controlplane.live.outbox import publish_live
from aios.controlplane.tenancy import OrgScope
from aios.shared.live import PipelineStatusUpdate, pipeline_activity
from aios.shared.messages import PipelineReport

_EXPIRED = TargetStatus.EXPIRED.value
_OPEN = (TargetStatus.PENDING.value, TargetStatus.APPLYING.value, TargetStatus.WAITING.value)


def _told(
    org_id: str,
    device_id: str,
    deployment: tuple[str | None, str, int],
    status: str,
    error: str | None,
) -> PipelineStatusUpdate:
    """The ``pipeline_status_update`` of a target (``deployment``: id, pipeline id, version)."""
    deployment_id, pipeline_id, version = deployment
    return PipelineStatusUpdate(
        org_id=org_id, device_id=device_id, pipeline_id=pipeline_id, deployment_id=deployment_id,
        version=version, status=pipeline_activity(status), deployment_status=status,  # type: ignore[arg-type]
        error=error,
    )  # fmt: skip


def _movable_from(status: str) -> tuple[str, ...]:
    """The target statuses a report of ``status`` may move."""
    if status == TargetStatus.APPLYING.value:
        return (TargetStatus.PENDING.value,)
    return (TargetStatus.PENDING.value, TargetStatus.APPLYING.value, _EXPIRED, status)


async def record_report(
    session: AsyncSession | AsyncConnection, report: PipelineReport, org_id: str
) -> bool:
    """Apply a device's ``cfg/reported`` to its deployment target; True if one moved.

    Called by the ingest with the organization of the topic the report came on, on its own
    connection or session: its statements run in that organization's scope
    (:func:`~aios.controlplane.db.scoped_session.scope_options`), whatever the connection's.
    The target is the report's ``deployment_id`` when given, else the device's latest deployment
    of that pipeline version. The caller commits.
    """
    now = datetime.now(UTC)
    scoped = scope_options(OrgScope(org_id=org_id))
    deployment_id = report.deployment_id
    if deployment_id is None:
        deployment_id = await session.scalar(
            select(Deployment.id)
            .join(DeploymentTarget, DeploymentTarget.deployment_id == Deployment.id)
            .where(
                Deployment.pipeline_id == report.pipeline_id,
                Deployment.version == report.version,
                DeploymentTarget.device_id == report.device_id,
            )
            .order_by(Deployment.created_at.desc())
            .limit(1),
            execution_options=scoped,
        )
        if deployment_id is None:
            return False
    matches = select(Deployment.id).where(
        Deployment.id == deployment_id,
        Deployment.pipeline_id == report.pipeline_id,
        Deployment.version == report.version,
    )
    result = await session.execute(
        update(DeploymentTarget)
        .where(
            DeploymentTarget.deployment_id.in_(matches.scalar_subquery()),
            DeploymentTarget.device_id == report.device_id,
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
        .execution_options(synchronize_session=False, **scoped)
    )
    if not getattr(result, "rowcount", 0):
        return False
    deployment = (deployment_id, report.pipeline_id, report.version)
    told = _told(org_id, report.device_id, deployment, report.status, report.error)
    await publish_live(session, [told])
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
    superseded = TargetStatus.SUPERSEDED.value
    await publish_live(
        conn,
        [
            _told(
                org_id, r.device_id, (r.deployment_id, r.pipeline_id, r.version), superseded, reason
            )
            for r in older
        ],
    )
    return len(older)


async def expire(conn: AsyncConnection, timeout_s: float, now: datetime | None = None) -> int:
    """End the targets left ``pending`` or ``applying`` for ``timeout_s`` (see the module)."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(seconds=timeout_s)
    reason = f"no answer from the device within {timeout_s:g} s"
    target = DeploymentTarget
    stale = (
        await conn.execute(
            update(target)
            .where(target.status.in_(_OPEN[:2]), target.updated_at < cutoff)
            .values(status=_EXPIRED, error=reason, updated_at=now)
            .returning(target.org_id, target.deployment_id, target.device_id)
        )
    ).all()
    if not stale:
        return 0
    rows = (
        await conn.execute(
            select(Deployment.id, Deployment.pipeline_id, Deployment.version).where(
                Deployment.id.in_({r.deployment_id for r in stale})
            )
        )
    ).all()
    of = {r.id: (r.id, r.pipeline_id, r.version) for r in rows}
    await publish_live(
        conn, [_told(r.org_id, r.device_id, of[r.deployment_id], _EXPIRED, reason) for r in stale]
    )
    return len(stale)
