"""The zero-loss proof's scenarios (``scripts/proof``) as tests: real processes, a private
Mosquitto and a private PostgreSQL cluster, one fault each; every batch and event the agent
produced must be stored exactly once (or the loss must equal what the agent reports dropped).

The fast scenarios run in CI; the long ones (a 60 s Mosquitto outage, PostgreSQL restart,
the dead agent's last will, a small spool, poison messages) run with ``AIOS_PROOF_LONG=1``, or
all together through ``make proof`` (which also writes docs/proof.md).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from scripts.proof.faults import SCENARIOS
from scripts.proof.rig import PG_BIN, Mosquitto, Postgres
from scripts.proof.scenarios import Rig, Scenario, run_scenario
from scripts.sample_video import make_sample_video

pytestmark = [pytest.mark.slow, pytest.mark.mqtt]

LONG = os.environ.get("AIOS_PROOF_LONG") == "1"


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, model_path: Path, testdata_dir: Path
) -> Iterator[Rig]:
    if not (PG_BIN / "initdb").exists() or shutil.which("mosquitto") is None:
        pytest.skip("needs PostgreSQL's initdb (AIOS_PG_BIN) and mosquitto")
    work = tmp_path_factory.mktemp("proof")
    images = [testdata_dir / "images" / "bus.jpg", testdata_dir / "images" / "zidane.jpg"]
    video = make_sample_video(work / "sample.mp4", images, seconds=6, fps=10, size=(960, 540))
    mosquitto, postgres = Mosquitto(work / "mosquitto"), Postgres()
    postgres.init()
    mosquitto.start()
    try:
        yield Rig(work, mosquitto, postgres, video, model_path, outage_s=60)
    finally:
        mosquitto.stop()
        postgres.destroy()


def _params() -> list[object]:
    return [
        pytest.param(
            s,
            id=s.name,
            marks=[] if s.fast or LONG else [pytest.mark.skip(reason="long: AIOS_PROOF_LONG=1")],
        )
        for s in SCENARIOS
    ]


@pytest.mark.parametrize("scenario", _params())
def test_scenario_loses_nothing(rig: Rig, scenario: Scenario) -> None:
    if rig.mosquitto.proc is None:
        rig.mosquitto.start()
    result = run_scenario(rig, scenario, after_s=5)
    assert result.lost_batches == result.dropped_batches, result
    assert result.lost_events == result.dropped_events, result
    assert result.stored_twice == 0, result
    assert result.api_missing_batches == result.lost_batches, result
    assert result.ok, result
