"""HTTP handlers of the pipelines domain: ``/api/v1/pipelines``."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from aios.controlplane.accounts.auth import CAN_OPERATE, Caller
from aios.controlplane.db.models import Pipeline, PipelineVersion
from aios.controlplane.pagination import PAGE_DEPENDENCY, to_page
from aios.controlplane.pipelines.deployments import DeploymentService
from aios.controlplane.pipelines.publisher import ConfigPublisher
from aios.controlplane.pipelines.schemas import (
    DeploymentOut,
    ExecuteRequest,
    PipelineCreate,
    PipelineOut,
    PipelineUpdate,
    ValidateRequest,
    ValidationResult,
    VersionDiff,
    VersionOut,
)
from aios.controlplane.pipelines.services import PipelineService, canonical_spec
from aios.controlplane.scoped_services import scoped_service
from aios.shared.errors import PipelineValidationError


def _pipeline(pipeline: Pipeline, version: PipelineVersion | None = None) -> PipelineOut:
    out = msgspec.convert(pipeline, PipelineOut, from_attributes=True)
    return msgspec.structs.replace(out, spec=None if version is None else version.spec)


def _spec(document: dict[str, object]) -> dict[str, Any]:
    return dict(document)


class PipelineController(Controller):
    path = "/api/v1/pipelines"
    tags = ["pipelines"]
    dependencies = {
        **PAGE_DEPENDENCY,
        "pipeline_service": scoped_service(PipelineService),
        "deployment_service": scoped_service(DeploymentService),
    }

    @get("/")
    async def list_pipelines(
        self, pipeline_service: NamedDependency[PipelineService], page: NamedDependency[LimitOffset]
    ) -> OffsetPagination[PipelineOut]:
        rows, total = await pipeline_service.get_many_and_count(page, order_by=[("name", False)])
        return to_page(rows, total, page, PipelineOut)

    @post("/", guards=[CAN_OPERATE], summary="Create a pipeline (version 1)")
    async def create_pipeline(
        self,
        data: JSONBody[PipelineCreate],
        caller: NamedDependency[Caller],
        pipeline_service: NamedDependency[PipelineService],
    ) -> PipelineOut:
        pipeline, version = await pipeline_service.create_pipeline(
            org_id=caller.org_id,
            name=data.name,
            description=data.description,
            spec=_spec(data.spec),
            user_id=caller.user_id,
        )
        return _pipeline(pipeline, version)

    @get("/{pipeline_id:str}", summary="A pipeline with its current spec")
    async def get_pipeline(
        self, pipeline_id: FromPath[str], pipeline_service: NamedDependency[PipelineService]
    ) -> PipelineOut:
        pipeline = await pipeline_service.get(pipeline_id)
        return _pipeline(
            pipeline, await pipeline_service.version(pipeline_id, pipeline.current_version)
        )

    @patch("/{pipeline_id:str}", guards=[CAN_OPERATE], summary="Change it (new spec: new version)")
    async def update_pipeline(
        self, pipeline_id: FromPath[str], data: JSONBody[PipelineUpdate],
        caller: NamedDependency[Caller], pipeline_service: NamedDependency[PipelineService],
    ) -> PipelineOut:  # fmt: skip
        pipeline, version = await pipeline_service.update_pipeline(
            pipeline_id,
            name=data.name,
            description=data.description,
            spec=None if data.spec is None else _spec(data.spec),
            user_id=caller.user_id,
        )
        return _pipeline(pipeline, version)

    @delete("/{pipeline_id:str}", guards=[CAN_OPERATE], status_code=HTTP_204_NO_CONTENT)
    async def delete_pipeline(
        self, pipeline_id: FromPath[str], pipeline_service: NamedDependency[PipelineService]
    ) -> None:
        await pipeline_service.delete(pipeline_id)

    @get("/{pipeline_id:str}/versions")
    async def list_versions(
        self, pipeline_id: FromPath[str], pipeline_service: NamedDependency[PipelineService]
    ) -> list[VersionOut]:
        rows = await pipeline_service.list_versions(pipeline_id)
        return [msgspec.convert(r, VersionOut, from_attributes=True) for r in rows]

    @get("/{pipeline_id:str}/versions/{version:int}")
    async def get_version(
        self,
        pipeline_id: FromPath[str],
        version: FromPath[int],
        pipeline_service: NamedDependency[PipelineService],
    ) -> VersionOut:
        row = await pipeline_service.version(pipeline_id, version)
        return msgspec.convert(row, VersionOut, from_attributes=True)

    @get("/{pipeline_id:str}/diff", summary="What changed between two versions")
    async def diff_versions(
        self,
        pipeline_id: FromPath[str],
        pipeline_service: NamedDependency[PipelineService],
        from_version: Annotated[int, QueryParameter(name="from", ge=1)],
        to_version: Annotated[int, QueryParameter(name="to", ge=1)],
    ) -> VersionDiff:
        return await pipeline_service.diff(pipeline_id, from_version, to_version)

    @post("/{pipeline_id:str}/validate", status_code=HTTP_200_OK)
    async def validate(
        self,
        pipeline_id: FromPath[str],
        data: JSONBody[ValidateRequest],
        pipeline_service: NamedDependency[PipelineService],
    ) -> ValidationResult:
        pipeline = await pipeline_service.get(pipeline_id)
        document = data.spec
        if document is None:
            document = (await pipeline_service.version(pipeline_id, pipeline.current_version)).spec
        try:
            canonical_spec(_spec(document))
        except PipelineValidationError as exc:
            return ValidationResult(
                valid=False, message=exc.message, node=exc.node, field=exc.field
            )
        return ValidationResult(valid=True)

    @post("/{pipeline_id:str}/execute", guards=[CAN_OPERATE], summary="Deploy to devices")
    async def execute(
        self, pipeline_id: FromPath[str], data: JSONBody[ExecuteRequest],
        caller: NamedDependency[Caller], pipeline_service: NamedDependency[PipelineService],
        deployment_service: NamedDependency[DeploymentService],
        config_publisher: NamedDependency[ConfigPublisher],
    ) -> DeploymentOut:  # fmt: skip
        return await deployment_service.execute(
            pipeline_service, config_publisher, pipeline_id, data, user_id=caller.user_id
        )

    @get("/{pipeline_id:str}/deployments")
    async def list_deployments(
        self, pipeline_id: FromPath[str], pipeline_service: NamedDependency[PipelineService],
        deployment_service: NamedDependency[DeploymentService],
    ) -> list[DeploymentOut]:  # fmt: skip
        await pipeline_service.get(pipeline_id)
        return await deployment_service.list_for(pipeline_id)

    @post(
        "/{pipeline_id:str}/deployments/{deployment_id:str}/advance",
        guards=[CAN_OPERATE],
        status_code=HTTP_200_OK,
        summary="Promote or abort a staged rollout now, if due (a job also does it)",
    )
    async def advance_deployment(
        self, pipeline_id: FromPath[str], deployment_id: FromPath[str],
        deployment_service: NamedDependency[DeploymentService],
        config_publisher: NamedDependency[ConfigPublisher],
    ) -> DeploymentOut:  # fmt: skip
        return await deployment_service.advance(config_publisher, pipeline_id, deployment_id)

    @get("/{pipeline_id:str}/deployments/{deployment_id:str}")
    async def get_deployment(
        self,
        pipeline_id: FromPath[str],
        deployment_id: FromPath[str],
        deployment_service: NamedDependency[DeploymentService],
    ) -> DeploymentOut:
        return await deployment_service.describe(pipeline_id, deployment_id)


ROUTES = [PipelineController]
