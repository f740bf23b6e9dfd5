"""Staged rollouts: canary first, promotion once healthy, abort and roll back on failure."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.pipelines.deployments import record_report
from aios.controlplane.pipelines.rollout import pick_canary
from aios.controlplane.settings import Settings
from aios.shared.messages import PipelineReport
from aios.shared.topics import Channel, build_topic
from tests.controlplane.api.conftest import Account
from tests.controlplane.api.test_fleet import create_device
from tests.controlplane.api.test_pipelines import _retained_config, create_pipeline, with_conf

pytestmark = pytest.mark.mqtt


async def report(
    engine: AsyncEngine, org_id: str, deployment: dict[str, Any], device: str, status: str
) -> None:
    message = PipelineReport(
        device_id=device, pipeline_id=deployment["pipeline_id"], version=deployment["version"],
        status=status, ts=0.0, deployment_id=deployment["id"],  # type: ignore[arg-type]
    )  # fmt: skip
    async with engine.begin() as conn:
        assert await record_report(conn, message, org_id)


async def setup_fleet(client: AsyncTestClient[Any], owner: Account) -> tuple[str, list[str]]:
    pipeline_id = await create_pipeline(client, owner)
    devices = [await create_device(client, owner, f"d{i}", ["rollout"]) for i in range(4)]
    return pipeline_id, devices


async def execute(
    client: AsyncTestClient[Any], owner: Account, pipeline_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Deploy the pipeline's current version; the new deployment."""
    r = await client.post(
        f"/api/v1/pipelines/{pipeline_id}/execute", headers=owner.headers, json=body
    )
    assert r.status_code == 201, r.text
    deployment: dict[str, Any] = r.json()
    return deployment


async def canary_rollout(
    client: AsyncTestClient[Any], owner: Account, pipeline_id: str, share: float, healthy_for_s: int
) -> dict[str, Any]:
    """A canary rollout of the pipeline's current version to the ``rollout`` devices."""
    body = {"tags": ["rollout"], "canary": {"share": share, "healthy_for_s": healthy_for_s}}
    return await execute(client, owner, pipeline_id, body)


async def advance(
    client: AsyncTestClient[Any], owner: Account, deployment: dict[str, Any]
) -> dict[str, Any]:
    """Ask the rollout to move on; the deployment after."""
    path = f"/api/v1/pipelines/{deployment['pipeline_id']}/deployments/{deployment['id']}"
    r = await client.post(f"{path}/advance", headers=owner.headers)
    assert r.is_success, r.text
    after: dict[str, Any] = r.json()
    return after


def test_pick_canary_is_stable_and_at_least_one() -> None:
    ids = [f"d{i}" for i in range(10)]
    assert len(pick_canary("dep", ids, 0.25)) == 3
    assert pick_canary("dep", ids, 0.25) == pick_canary("dep", reversed(ids), 0.25)
    assert len(pick_canary("dep", ids[:2], 0.01)) == 1


async def test_canary_promotes_after_it_applied_and_stayed_healthy(
    client: AsyncTestClient[Any],
    owner: Account,
    engine: AsyncEngine,
    api_settings: Settings,
    mqtt_url: str,
) -> None:
    pipeline_id, _ = await setup_fleet(client, owner)
    deployment = await canary_rollout(client, owner, pipeline_id, 0.5, 0)
    assert deployment["stage"] == "canary"
    canary = [t["device_id"] for t in deployment["targets"] if t["canary"]]
    rest = [t["device_id"] for t in deployment["targets"] if not t["canary"]]
    assert len(canary) == 2
    assert deployment["counts"] == {"pending": 2, "waiting": 2}

    await report(engine, owner.org_id, deployment, canary[0], "applied")
    waiting = await advance(client, owner, deployment)
    assert waiting["stage"] == "canary"  # one canary device has not applied yet

    await report(engine, owner.org_id, deployment, canary[1], "applied")
    promoted = await advance(client, owner, deployment)
    assert promoted["stage"] == "full", promoted
    assert promoted["counts"] == {"applied": 2, "pending": 2}
    topic = build_topic(
        owner.org_id, rest[0], Channel.CONFIG_DESIRED, prefix=api_settings.mqtt_topic_prefix
    )
    config = await _retained_config(mqtt_url, topic)
    assert config.deployment_id == deployment["id"]


async def test_canary_waits_for_the_health_period(
    client: AsyncTestClient[Any], owner: Account, engine: AsyncEngine
) -> None:
    pipeline_id, _ = await setup_fleet(client, owner)
    deployment = await canary_rollout(client, owner, pipeline_id, 0.25, 3600)
    canary = [t["device_id"] for t in deployment["targets"] if t["canary"]]
    await report(engine, owner.org_id, deployment, canary[0], "applied")
    still = await advance(client, owner, deployment)
    assert still["stage"] == "canary"
    assert still["counts"] == {"applied": 1, "waiting": 3}


async def test_failed_canary_aborts_and_rolls_back(
    client: AsyncTestClient[Any],
    owner: Account,
    engine: AsyncEngine,
    api_settings: Settings,
    mqtt_url: str,
) -> None:
    pipeline_id, devices = await setup_fleet(client, owner)
    first = await execute(client, owner, pipeline_id, {"tags": ["rollout"]})
    for device in devices:
        await report(engine, owner.org_id, first, device, "applied")
    await client.patch(
        f"/api/v1/pipelines/{pipeline_id}", headers=owner.headers, json={"spec": with_conf(0.6)}
    )
    second = await canary_rollout(client, owner, pipeline_id, 0.25, 0)
    assert second["version"] == 2
    canary = next(t["device_id"] for t in second["targets"] if t["canary"])
    topic = build_topic(
        owner.org_id, canary, Channel.CONFIG_DESIRED, prefix=api_settings.mqtt_topic_prefix
    )
    assert (await _retained_config(mqtt_url, topic)).version == 2

    await report(engine, owner.org_id, second, canary, "rolled_back")
    aborted = await advance(client, owner, second)
    assert aborted["stage"] == "aborted"
    assert "rolled_back" in aborted["stage_reason"]
    assert aborted["counts"] == {"rolled_back": 1, "cancelled": 3}
    restored = await _retained_config(mqtt_url, topic)
    assert (restored.version, restored.deployment_id) == (1, first["id"])
