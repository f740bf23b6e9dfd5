"""REST shapes of the pipelines domain.

A pipeline's ``spec`` is taken as a JSON object and validated by
:func:`aios.shared.pipeline.decode_pipeline`, the code the agent runs, so that an error names
the node and the field exactly as the device would.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from aios.controlplane.fleet.schemas import Tag
from aios.shared.fields import Identifier

SpecDocument = dict[str, object]
Name = Annotated[str, Meta(min_length=1, max_length=128)]
Description = Annotated[str, Meta(max_length=2000)]


class PipelineCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    spec: SpecDocument
    description: Description = ""


class PipelineUpdate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A new ``spec`` creates a new version; name and description do not."""

    name: Name | None = None
    description: Description | None = None
    spec: SpecDocument | None = None


class PipelineOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    description: str
    current_version: int
    created_at: datetime
    updated_at: datetime
    spec: SpecDocument | None = None


class VersionOut(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    spec: SpecDocument
    created_at: datetime
    created_by: str | None


class Change(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One difference; ``path`` names nodes by id (``nodes[detect].params.conf``)."""

    path: str
    op: Literal["added", "removed", "changed"]
    before: object = None
    after: object = None


class VersionDiff(msgspec.Struct, frozen=True, kw_only=True):
    from_version: int
    to_version: int
    changes: list[Change]


class ValidateRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Validate ``spec`` if given, else the pipeline's current version."""

    spec: SpecDocument | None = None


class ValidationResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    valid: bool
    message: str | None = None
    node: str | None = None
    field: str | None = None


class CanaryPlan(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Send to ``share`` of the devices first; the rest once they all applied the config and
    stayed healthy (online, no failure report) for ``healthy_for_s``; else abort and roll back."""

    share: Annotated[float, Meta(gt=0.0, lt=1.0)]
    healthy_for_s: Annotated[int, Meta(ge=0, le=7 * 86400)] = 300


class ExecuteRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Deploy ``version`` (default: the current one) to devices chosen by id and/or by tag."""

    version: Annotated[int, Meta(ge=1)] | None = None
    device_ids: Annotated[list[Identifier], Meta(max_length=10_000)] = []
    tags: Annotated[list[Tag], Meta(max_length=32)] = []
    canary: CanaryPlan | None = None


class TargetOut(msgspec.Struct, frozen=True, kw_only=True):
    device_id: str
    status: str
    canary: bool
    error: str | None
    node: str | None
    field: str | None
    active_version: int | None
    reported_at: datetime | None


class DeploymentOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    pipeline_id: str
    version: int
    created_at: datetime
    created_by: str | None
    stage: str
    stage_reason: str | None
    counts: dict[str, int]
    targets: list[TargetOut] = []
