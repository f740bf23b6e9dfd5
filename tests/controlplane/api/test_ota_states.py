"""Deployment targets always end: ``applying`` during the grace period, a final report, or
``superseded`` (saying by which deployment) when a newer deployment to the device came first;
a late or stale report never moves a target that already ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.models import LiveMessageRecord
from aios.controlplane.pipelines.deployments import record_report
from aios.controlplane.pipelines.target_status import expire
from aios.shared.messages import PipelineReport
from tests.controlplane.api.conftest import Account
from tests.controlplane.api.test_fleet import create_device
from tests.controlplane.api.test_pipelines import create_pipeline, with_conf

pytestmark = pytest.mark.mqtt


async def test_targets_go_applying_then_final_and_older_ones_are_superseded(
    client: AsyncTestClient[Any], owner: Account, engine: AsyncEngine
) -> None:
    pipeline_id = await create_pipeline(client, owner)
    await client.patch(
        f"/api/v1/pipelines/{pipeline_id}", headers=owner.headers, json={"spec": with_conf(0.5)}
    )
    device = await create_device(client, owner, "gw", [])

    async def execute(version: int) -> str:
        r = await client.post(
            f"/api/v1/pipelines/{pipeline_id}/execute",
            headers=owner.headers,
            json={"version": version, "device_ids": [device]},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def target(deployment: str) -> dict[str, Any]:
        r = await client.get(
            f"/api/v1/pipelines/{pipeline_id}/deployments/{deployment}", headers=owner.headers
        )
        (only,) = r.json()["targets"]
        return dict(only)

    async def report(deployment: str, version: int, status: str) -> bool:
        message = PipelineReport(
            device_id=device, pipeline_id=pipeline_id, version=version, status=status,  # type: ignore[arg-type]
            ts=0.0, deployment_id=deployment, active_version=version,
        )  # fmt: skip
        async with engine.begin() as conn:
            return await record_report(conn, message, owner.org_id)

    first = await execute(2)
    assert await report(first, 2, "applying")
    assert (await target(first))["status"] == "applying"
    assert not await report(first, 2, "applying")  # already applying: no second move
    assert await report(first, 2, "applied")
    assert not await report(first, 2, "applying")  # a stale applying never reopens it
    assert (await target(first))["status"] == "applied"

    # A rollback to v1, then the same version sent again before the device answered.
    rollback = await execute(1)
    assert (await target(first))["status"] == "applied"  # ended: not superseded
    again = await execute(1)
    ended = await target(rollback)
    assert ended["status"] == "superseded"
    assert again in (ended["error"] or "")
    assert not await report(rollback, 1, "applied")  # a late answer: it stays superseded
    assert (await target(rollback))["status"] == "superseded"
    assert await report(again, 1, "applied")
    assert not await report(again, 1, "failed")  # one final status never turns into another
    assert (await target(again))["status"] == "applied"

    async with engine.connect() as conn:
        live = (
            await conn.scalars(
                select(LiveMessageRecord.message)
                .where(LiveMessageRecord.org_id == owner.org_id)
                .order_by(LiveMessageRecord.id)
            )
        ).all()
    told = [
        (m["deployment_id"], m["deployment_status"], m["status"])
        for m in live
        if m["type"] == "pipeline_status_update"
    ]
    assert told == [
        (first, "applying", "active"),
        (first, "applied", "active"),
        (rollback, "superseded", "inactive"),
        (again, "applied", "active"),
    ]


async def test_a_superseded_canary_rollout_ends_aborted(
    client: AsyncTestClient[Any], owner: Account
) -> None:
    pipeline_id = await create_pipeline(client, owner)
    for i in range(3):
        await create_device(client, owner, f"c{i}", ["canary-superseded"])
    staged = await client.post(
        f"/api/v1/pipelines/{pipeline_id}/execute",
        headers=owner.headers,
        json={"tags": ["canary-superseded"], "canary": {"share": 0.3, "healthy_for_s": 0}},
    )
    assert staged.status_code == 201, staged.text
    newer = await client.post(
        f"/api/v1/pipelines/{pipeline_id}/execute",
        headers=owner.headers,
        json={"tags": ["canary-superseded"]},
    )
    assert newer.status_code == 201, newer.text
    url = f"/api/v1/pipelines/{pipeline_id}/deployments/{staged.json()['id']}"
    advanced = (await client.post(f"{url}/advance", headers=owner.headers)).json()
    assert advanced["stage"] == "aborted", advanced
    assert advanced["stage_reason"] == "superseded by a newer deployment"
    assert advanced["counts"] == {"superseded": 3}


async def test_a_target_never_answered_expires_and_a_late_answer_still_counts(
    client: AsyncTestClient[Any], owner: Account, engine: AsyncEngine
) -> None:
    pipeline_id = await create_pipeline(client, owner)
    device = await create_device(client, owner, "gone", [])
    deployed = await client.post(
        f"/api/v1/pipelines/{pipeline_id}/execute",
        headers=owner.headers,
        json={"device_ids": [device]},
    )
    deployment = deployed.json()["id"]
    url = f"/api/v1/pipelines/{pipeline_id}/deployments/{deployment}"
    later = datetime.now(UTC) + timedelta(seconds=120)
    async with engine.begin() as conn:
        assert await expire(conn, 3600, now=later) == 0  # not yet
        assert await expire(conn, 60, now=later) >= 1  # the other tests' targets may go too
    (target,) = (await client.get(url, headers=owner.headers)).json()["targets"]
    assert target["status"] == "expired"
    assert "no answer from the device within 60 s" in target["error"]

    report = PipelineReport(
        device_id=device, pipeline_id=pipeline_id, version=1, status="applied", ts=0.0,
        deployment_id=deployment, active_version=1,
    )  # fmt: skip
    async with engine.begin() as conn:  # the device came back and applied it
        assert await record_report(conn, report, owner.org_id)
    (target,) = (await client.get(url, headers=owner.headers)).json()["targets"]
    assert target["status"] == "applied"
