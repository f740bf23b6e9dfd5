"""Deploying a pipeline version to devices, and following each device's report.

:meth:`DeploymentService.execute` records the deployment and one target per device (status
``pending``), commits, then publishes each device's retained ``cfg/desired``. Devices answer on
``cfg/reported``; the ingest decodes the :class:`PipelineReport` and calls :func:`record_report`,
which moves the target to ``applying`` then ``applied``, ``rejected``, ``failed`` or
``rolled_back``. A deployment to a device supersedes that device's targets of older deployments
that had not ended (:mod:`~aios.controlplane.pipelines.target_status`): every target ends.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence

import msgspec
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy import select, update

from aios.controlplane.db.models import (
    Deployment,
    DeploymentTarget,
    Device,
    TargetStatus,
)
from aios.controlplane.db.models.organizations import new_identifier
from aios.controlplane.db.models.pipelines import DeploymentStage
from aios.controlplane.errors import BrokerError, InvalidRequestError, NotFoundError
from aios.controlplane.fleet.services import has_tag
from aios.controlplane.pipelines.publisher import ConfigPublisher, DesiredConfig
from aios.controlplane.pipelines.rollout import Decision, advance_rollouts, pick_canary
from aios.controlplane.pipelines.schemas import DeploymentOut, ExecuteRequest, TargetOut
from aios.controlplane.pipelines.services import PipelineService
from aios.controlplane.pipelines.target_status import record_report, supersede
from aios.shared.messages import PipelineConfig
from aios.shared.pipeline import decode_pipeline


class DeploymentRepository(SQLAlchemyAsyncRepository[Deployment]):
    model_type = Deployment


class DeploymentService(SQLAlchemyAsyncRepositoryService[Deployment, DeploymentRepository]):
    """Deployments of the session's organization."""

    repository_type = DeploymentRepository

    async def execute(
        self,
        pipelines: PipelineService,
        publisher: ConfigPublisher,
        pipeline_id: str,
        request: ExecuteRequest,
        *,
        user_id: str,
    ) -> DeploymentOut:
        if not request.device_ids and not request.tags:
            raise InvalidRequestError("give device_ids or tags", field="device_ids")
        session = self.repository.session
        pipeline = await pipelines.get(pipeline_id)
        number = request.version or pipeline.current_version
        version = await pipelines.version(pipeline_id, number)
        devices = await self._select_devices(request)
        deployment = await self.create(
            Deployment(
                id=new_identifier(),
                org_id=pipeline.org_id,
                pipeline_id=pipeline.id,
                version=number,
                selector={"device_ids": request.device_ids, "tags": request.tags},
                created_by=user_id,
                stage=(DeploymentStage.CANARY if request.canary else DeploymentStage.FULL).value,
                canary_share=request.canary.share if request.canary else None,
                healthy_for_s=request.canary.healthy_for_s if request.canary else None,
            )
        )
        canary = (
            pick_canary(deployment.id, [d.id for d in devices], request.canary.share)
            if request.canary
            else set()
        )
        session.add_all(
            DeploymentTarget(
                deployment_id=deployment.id,
                device_id=device.id,
                org_id=pipeline.org_id,
                canary=device.id in canary,
                status=(
                    TargetStatus.WAITING
                    if canary and device.id not in canary
                    else TargetStatus.PENDING
                ).value,
            )
            for device in devices
        )
        await session.flush()
        await supersede(
            await session.connection(), pipeline.org_id, deployment, [d.id for d in devices]
        )
        await session.commit()  # targets exist before any device can report
        spec = decode_pipeline(version.spec)
        issued_at = time.time()
        configs: list[DesiredConfig] = [
            (
                device.org_id,
                device.id,
                PipelineConfig(
                    pipeline_id=pipeline.id,
                    version=number,
                    spec=spec,
                    issued_at=issued_at,
                    deployment_id=deployment.id,
                ),
            )
            for device in devices
            if not canary or device.id in canary
        ]
        try:
            await publisher.publish_desired(configs)
        except BrokerError as exc:
            await session.execute(
                update(DeploymentTarget)
                .where(
                    DeploymentTarget.deployment_id == deployment.id,
                    DeploymentTarget.status == TargetStatus.PENDING.value,
                )
                .values(status=TargetStatus.FAILED.value, error=str(exc)[:1024])
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            raise
        return await self.describe(pipeline_id, deployment.id)

    async def advance(
        self,
        publisher: ConfigPublisher,
        pipeline_id: str,
        deployment_id: str,
        *,
        decision: Decision | None = None,
    ) -> DeploymentOut:
        """Move a staged rollout on now if it is due, or as the operator's ``decision`` says
        (promote or abort) while it is in its canary stage."""
        await self.describe(pipeline_id, deployment_id)  # 404 unless it is the caller's
        session = self.repository.session
        await advance_rollouts(
            await session.connection(), publisher, deployment_id=deployment_id, decision=decision
        )
        session.expire_all()
        return await self.describe(pipeline_id, deployment_id)

    async def _select_devices(self, request: ExecuteRequest) -> list[Device]:
        session = self.repository.session
        chosen: dict[str, Device] = {}
        if request.device_ids:
            wanted = set(request.device_ids)
            rows = (await session.scalars(select(Device).where(Device.id.in_(wanted)))).all()
            missing = wanted - {d.id for d in rows}
            if missing:
                raise NotFoundError(f"device {sorted(missing)[0]} not found")
            chosen.update((d.id, d) for d in rows)
        for tag in request.tags:
            rows = (await session.scalars(select(Device).where(has_tag(session, tag)))).all()
            chosen.update((d.id, d) for d in rows)
        if not chosen:
            raise InvalidRequestError("no device matches the selection", field="tags")
        return sorted(chosen.values(), key=lambda d: d.id)

    async def describe(self, pipeline_id: str, deployment_id: str) -> DeploymentOut:
        deployment = await self.get_one_or_none(
            Deployment.id == deployment_id, Deployment.pipeline_id == pipeline_id
        )
        if deployment is None:
            raise NotFoundError(f"deployment {deployment_id} not found")
        targets = (
            await self.repository.session.scalars(
                select(DeploymentTarget)
                .where(DeploymentTarget.deployment_id == deployment_id)
                .order_by(DeploymentTarget.device_id)
            )
        ).all()
        return _out(deployment, targets, with_targets=True)

    async def list_for(self, pipeline_id: str) -> list[DeploymentOut]:
        deployments = (
            await self.repository.session.scalars(
                select(Deployment)
                .where(Deployment.pipeline_id == pipeline_id)
                .order_by(Deployment.created_at.desc())
                .limit(200)
            )
        ).all()
        ids = [d.id for d in deployments]
        targets = (
            await self.repository.session.scalars(
                select(DeploymentTarget).where(DeploymentTarget.deployment_id.in_(ids))
            )
        ).all()
        by_deployment: dict[str, list[DeploymentTarget]] = {}
        for t in targets:
            by_deployment.setdefault(t.deployment_id, []).append(t)
        return [_out(d, by_deployment.get(d.id, []), with_targets=False) for d in deployments]


def _out(
    deployment: Deployment, targets: Sequence[DeploymentTarget], *, with_targets: bool
) -> DeploymentOut:
    return DeploymentOut(
        id=deployment.id,
        pipeline_id=deployment.pipeline_id,
        version=deployment.version,
        created_at=deployment.created_at,
        created_by=deployment.created_by,
        stage=deployment.stage,
        stage_reason=deployment.stage_reason,
        counts=dict(Counter(t.status for t in targets)),
        targets=[msgspec.convert(t, TargetOut, from_attributes=True) for t in targets]
        if with_targets
        else [],
    )


__all__ = ["DeploymentService", "record_report"]
