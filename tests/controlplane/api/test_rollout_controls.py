"""An operator promotes a canary rollout before its health period is over, or aborts it."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.controlplane.api.conftest import Account, add_member
from tests.controlplane.api.test_rollout import execute, report, setup_fleet

pytestmark = pytest.mark.mqtt


async def _canary(client: AsyncTestClient[Any], owner: Account) -> tuple[str, dict[str, Any]]:
    pipeline_id, _ = await setup_fleet(client, owner)
    body = {"tags": ["rollout"], "canary": {"share": 0.5, "healthy_for_s": 3600}}
    return pipeline_id, await execute(client, owner, pipeline_id, body)


@pytest.mark.parametrize(
    ("action", "stage", "counts", "reason"),
    [
        ("promote", "full", {"applied": 2, "pending": 2}, "promoted by an operator"),
        ("abort", "aborted", {"applied": 2, "cancelled": 2}, "aborted by an operator"),
    ],
)
async def test_an_operator_decides_a_canary_now(
    client: AsyncTestClient[Any],
    owner: Account,
    other_owner: Account,
    engine: AsyncEngine,
    action: str,
    stage: str,
    counts: dict[str, int],
    reason: str,
) -> None:
    pipeline_id, deployment = await _canary(client, owner)
    for t in deployment["targets"]:
        if t["canary"]:
            await report(engine, owner.org_id, deployment, t["device_id"], "applied")
    base = f"/api/v1/pipelines/{pipeline_id}/deployments/{deployment['id']}"
    waiting = (await client.post(f"{base}/advance", headers=owner.headers)).json()
    assert waiting["stage"] == "canary"  # an hour of health is not over: not due

    viewer = await add_member(client, owner, "viewer")
    assert (await client.post(f"{base}/{action}", headers=viewer.headers)).status_code == 403
    assert (await client.post(f"{base}/{action}", headers=other_owner.headers)).status_code == 404
    decided = await client.post(f"{base}/{action}", headers=owner.headers)
    assert decided.status_code == 200, decided.text
    out = decided.json()
    assert (out["stage"], out["counts"], out["stage_reason"]) == (stage, counts, reason)
