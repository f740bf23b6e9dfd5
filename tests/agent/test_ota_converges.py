"""Every desired config gets a final answer: rollbacks to a version run before, the same
version sent again, a missing model; ``applying`` during the grace period.

In process, with the in-memory transport and synthetic cameras (see ``test_supervisor``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from aios.agent.config import build_config
from aios.agent.runtime import Agent
from aios.agent.transport.memory import MemoryTransport
from aios.shared.codec import encode
from aios.shared.messages import PipelineConfig, PipelineReport
from aios.shared.pipeline import decode_pipeline
from tests.agent.test_supervisor import spec, synthetic_agent, until

pytestmark = pytest.mark.slow

GRACE_S = 1.0


def desired(version: int, deployment: str, body: dict[str, object] | None = None) -> bytes:
    msg = PipelineConfig(
        pipeline_id="pl-1",
        version=version,
        spec=decode_pipeline(body or spec()),
        issued_at=time.time(),
        deployment_id=deployment,
    )
    return encode(msg)


def with_model(model: str) -> dict[str, object]:
    body = spec()
    nodes = body["nodes"]
    assert isinstance(nodes, list)
    nodes[1] = {"id": "det", "type": "detect", "params": {"every_n": 2, "model": model}}
    return body


async def answer(
    transport: MemoryTransport, deployment: str, timeout: float = 20
) -> PipelineReport:
    """The final report (anything but ``applying``) on ``deployment``."""
    deadline = time.monotonic() + timeout
    while True:
        final = [
            r
            for r in transport.reports()
            if r.deployment_id == deployment and r.status != "applying"
        ]
        if final:
            return final[-1]
        assert time.monotonic() < deadline, f"no answer on {deployment}: {transport.reports()}"
        await asyncio.sleep(0.05)


async def running_agent(
    tmp_path: Path, model_path: Path, **settings: Any
) -> AsyncIterator[tuple[Agent, MemoryTransport]]:
    transport = MemoryTransport()
    config = build_config(
        {
            "device": {"org_id": "acme", "device_id": "edge-1"},
            "state_dir": str(tmp_path / "state"),
            "model_path": str(model_path),
            "apply": {"grace_s": GRACE_S, "start_timeout_s": 3.0},
            **settings,
        },
        environ={},
    )
    agent = synthetic_agent(config, transport)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await until(lambda: bool(transport._handlers))  # cfg/desired is listened to
        yield agent, transport
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


@pytest.fixture
async def agent(tmp_path: Path, model_path: Path) -> AsyncIterator[tuple[Agent, MemoryTransport]]:
    async for running in running_agent(tmp_path, model_path):
        yield running


async def test_rollback_and_the_same_version_again_are_answered(
    agent: tuple[Agent, MemoryTransport],
) -> None:
    a, transport = agent
    for version, deployment in ((1, "d-1"), (4, "d-4")):
        transport.deliver_config(desired(version, deployment))
        report = await answer(transport, deployment)
        assert (report.status, report.active_version) == ("applied", version)

    # A rollback to v1, which this agent ran before: applied, and v1 runs again.
    transport.deliver_config(desired(1, "d-rollback"))
    report = await answer(transport, "d-rollback")
    assert (report.status, report.version, report.active_version) == ("applied", 1, 1)
    assert a.supervisor.describe()[1] == 1
    n = len(transport.batches())
    await until(lambda: len(transport.batches()) > n)
    assert transport.batches()[-1].pipeline_version == 1

    # The running version sent again by a new deployment: answered at once, not restarted.
    runner = a.supervisor.current
    transport.deliver_config(desired(1, "d-again"))
    report = await answer(transport, "d-again", timeout=GRACE_S / 2 + 2)
    assert (report.status, report.active_version) == ("applied", 1)
    assert a.supervisor.current is runner

    # The retained config redelivered after a reconnect (the same bytes): no second answer.
    retained = desired(1, "d-retained")
    transport.deliver_config(retained)
    await answer(transport, "d-retained")
    count = len(transport.reports())
    transport.deliver_config(retained)
    await asyncio.sleep(GRACE_S + 0.5)
    assert len(transport.reports()) == count


async def test_applying_is_reported_during_the_grace_period(
    agent: tuple[Agent, MemoryTransport],
) -> None:
    _, transport = agent
    transport.deliver_config(desired(2, "d-2"))
    await answer(transport, "d-2")
    statuses = [r.status for r in transport.reports() if r.deployment_id == "d-2"]
    assert statuses == ["applying", "applied"]
    applying = transport.reports()[0]
    assert applying.active_version == 2  # v2 runs while it is watched


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("/nowhere/yolov8x.onnx", "model file not found: /nowhere/yolov8x.onnx"),
        ("yolov9z", "unknown model name 'yolov9z'"),
    ],
)
async def test_a_missing_model_fails_the_deployment_despite_model_path(
    agent: tuple[Agent, MemoryTransport], model: str, reason: str
) -> None:
    a, transport = agent
    transport.deliver_config(desired(3, "d-missing", with_model(model)))
    report = await answer(transport, "d-missing")
    assert report.status == "failed", report
    assert reason in (report.error or "")
    assert a.supervisor.describe()[1] != 3


async def test_an_explicit_override_runs_model_path_instead(
    tmp_path: Path, model_path: Path
) -> None:
    async for _, transport in running_agent(tmp_path, model_path, model_override=True):
        transport.deliver_config(desired(3, "d-override", with_model("/nowhere/yolov8x.onnx")))
        report = await answer(transport, "d-override")
        assert (report.status, report.active_version) == ("applied", 3)
