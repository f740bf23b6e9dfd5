"""Pipelines and their immutable versions (generic CRUD with hooks, in the org's session).

Every spec is decoded by :func:`aios.shared.pipeline.decode_pipeline` before it is stored, and
stored in its canonical form (defaults filled in), so what a device receives is exactly what
was validated here.
"""

from __future__ import annotations

from typing import Any

import msgspec
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy import select

from aios.controlplane.db.models import Pipeline, PipelineVersion
from aios.controlplane.db.models.organizations import new_identifier
from aios.controlplane.errors import NotFoundError
from aios.controlplane.pipelines.diff import diff_specs
from aios.controlplane.pipelines.schemas import VersionDiff
from aios.shared.pipeline import PipelineSpec, decode_pipeline


def canonical_spec(document: dict[str, Any]) -> tuple[PipelineSpec, dict[str, Any]]:
    """The validated spec and its canonical JSON document; raises PipelineValidationError."""
    spec = decode_pipeline(document)
    return spec, msgspec.to_builtins(spec)


class PipelineRepository(SQLAlchemyAsyncRepository[Pipeline]):
    model_type = Pipeline


class PipelineVersionRepository(SQLAlchemyAsyncRepository[PipelineVersion]):
    model_type = PipelineVersion


class PipelineVersionService(
    SQLAlchemyAsyncRepositoryService[PipelineVersion, PipelineVersionRepository]
):
    repository_type = PipelineVersionRepository


class PipelineService(SQLAlchemyAsyncRepositoryService[Pipeline, PipelineRepository]):
    """Pipelines of the session's organization, each change of spec a new version."""

    repository_type = PipelineRepository

    @property
    def versions(self) -> PipelineVersionService:
        return PipelineVersionService(session=self.repository.session)

    async def create_pipeline(
        self, *, org_id: str, name: str, description: str, spec: dict[str, Any], user_id: str
    ) -> tuple[Pipeline, PipelineVersion]:
        _, document = canonical_spec(spec)
        pipeline = await self.create(
            Pipeline(
                id=new_identifier(),
                org_id=org_id,
                name=name,
                description=description,
                current_version=1,
            )
        )
        version = await self._add_version(pipeline, 1, document, user_id)
        return pipeline, version

    async def update_pipeline(
        self,
        pipeline_id: str,
        *,
        name: str | None,
        description: str | None,
        spec: dict[str, Any] | None,
        user_id: str,
    ) -> tuple[Pipeline, PipelineVersion]:
        pipeline = await self.repository.get(pipeline_id, with_for_update=True)
        current = await self.version(pipeline_id, pipeline.current_version)
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if description is not None:
            changes["description"] = description
        if spec is not None:
            _, document = canonical_spec(spec)
            if document != current.spec:
                changes["current_version"] = pipeline.current_version + 1
                current = await self._add_version(
                    pipeline, pipeline.current_version + 1, document, user_id
                )
        if changes:
            pipeline = await self.update(changes, item_id=pipeline_id)
        return pipeline, current

    async def version(self, pipeline_id: str, number: int) -> PipelineVersion:
        row = await self.versions.get_one_or_none(
            PipelineVersion.pipeline_id == pipeline_id, PipelineVersion.version == number
        )
        if row is None:
            raise NotFoundError(f"pipeline {pipeline_id} has no version {number}")
        return row

    async def list_versions(self, pipeline_id: str) -> list[PipelineVersion]:
        await self.get(pipeline_id)
        rows = await self.repository.session.scalars(
            select(PipelineVersion)
            .where(PipelineVersion.pipeline_id == pipeline_id)
            .order_by(PipelineVersion.version.desc())
        )
        return list(rows.all())

    async def diff(self, pipeline_id: str, before: int, after: int) -> VersionDiff:
        old = await self.version(pipeline_id, before)
        new = await self.version(pipeline_id, after)
        return VersionDiff(
            from_version=before, to_version=after, changes=diff_specs(old.spec, new.spec)
        )

    async def _add_version(
        self, pipeline: Pipeline, number: int, document: dict[str, Any], user_id: str
    ) -> PipelineVersion:
        return await self.versions.create(
            PipelineVersion(
                id=new_identifier(),
                org_id=pipeline.org_id,
                pipeline_id=pipeline.id,
                version=number,
                spec=document,
                created_by=user_id,
            )
        )
