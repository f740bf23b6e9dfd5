"""The fault scenarios and what each one measures.

Every scenario runs on a fresh database of the private cluster, a fresh agent state and its own
device, through the suite's private Mosquitto: warm-up until batches are stored, the fault,
recovery (until everything produced before the fault ended is stored), more traffic, then the
agent stops (SIGTERM, it flushes) and the suite waits for the data to settle. Then it compares:

* produced: the agent's own persistent counters (``seq``, ``event_seq`` in its state dir);
* dropped: the agent's spool counters (what it reports it gave up, budget exceeded);
* stored: distinct batch seqs in ``detection_batches``; detection rows against the objects
  those batches hold (more rows would be a batch stored twice); event seqs tracked;
* the API: ``GET /api/v1/fleet/{id}/completeness`` (missing batches and events);
* seen on the broker: the independent collector.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from scripts.proof.device import Agent, Collector
from scripts.proof.rig import ControlPlane, Mosquitto, Postgres, RigError, register


@dataclass
class Rig:
    """The suite's shared private services and inputs."""

    workdir: Path
    mosquitto: Mosquitto
    postgres: Postgres
    video: Path
    model: Path
    outage_s: float = 60.0


@dataclass
class Run:
    """One scenario's live components."""

    rig: Rig
    cp: ControlPlane
    agent: Agent
    org_id: str
    auth: dict[str, str]
    dsn: str
    notes: list[str] = field(default_factory=list)
    measures: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    fault: Callable[[Run], None]
    split: bool = False
    spool_bytes: int = 256 * 1024 * 1024
    keepalive_s: int = 30
    agent_survives: bool = True
    fast: bool = False
    """Short enough for CI (a minute or two)."""


@dataclass
class Result:
    name: str
    title: str
    produced_batches: int
    stored_batches: int
    lost_batches: int
    stored_twice: int
    dropped_batches: int
    produced_events: int
    stored_events: int
    lost_events: int
    dropped_events: int
    api_missing_batches: int | None
    api_missing_events: int | None
    redeliveries: int
    seen_on_broker: int
    recovery_s: float | None
    measures: dict[str, float | None]
    notes: list[str]
    left_in_spool: int = 0
    """Messages the agent still holds unconfirmed at the end (sent again when it runs)."""

    @property
    def ok(self) -> bool:
        return (
            self.lost_batches == self.dropped_batches
            and self.lost_events == self.dropped_events
            and self.stored_twice == 0
            and self.api_missing_batches == self.lost_batches
            and not any(n.startswith("FAIL") for n in self.notes)
        )


def query(dsn: str, sql: str, *args: object) -> list[Any]:
    async def go() -> list[Any]:
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    try:
        return asyncio.run(go())
    except (OSError, asyncpg.PostgresError):
        return []


def stored_seqs(run: Run) -> set[int]:
    rows = query(
        run.dsn, "SELECT seq FROM detection_batches WHERE device_id = $1", run.agent.device_id
    )
    return {int(r[0]) for r in rows}


def wait_stored(run: Run, below: int, timeout: float) -> float | None:
    """Seconds until every seq below ``below`` is stored; ``None`` on timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        have = stored_seqs(run)
        if all(s in have for s in range(below)):
            return time.monotonic() - start
        time.sleep(0.5)
    return None


def run_scenario(rig: Rig, scenario: Scenario, *, after_s: float = 10.0) -> Result:
    workdir = rig.workdir / scenario.name
    dsn_db = "proof_" + scenario.name + "_" + uuid.uuid4().hex[:6]
    url = rig.postgres.create_database(dsn_db)
    dsn = f"postgresql://postgres@127.0.0.1:{rig.postgres.port}/{dsn_db}"
    cp = ControlPlane(workdir / "cp", url, rig.mosquitto.url, split=scenario.split)
    cp.upgrade()
    cp.start()
    org_id, auth = register(cp.base)
    device = "cam-" + uuid.uuid4().hex[:6]
    agent = Agent(
        workdir / "agent",
        rig.video,
        rig.model,
        rig.mosquitto.url,
        org_id,
        device,
        spool_bytes=scenario.spool_bytes,
        keepalive_s=scenario.keepalive_s,
    )
    run = Run(rig, cp, agent, org_id, auth, dsn)
    collector = Collector(rig.mosquitto.url, org_id, device)
    agent.start()
    try:
        deadline = time.monotonic() + 180
        while len(stored_seqs(run)) < 5:
            if time.monotonic() > deadline:
                raise RigError(f"{scenario.name}: nothing stored within 180 s of the agent start")
            time.sleep(1)
        time.sleep(5)
        scenario.fault(run)
        produced_at_end, _ = agent.produced()
        recovery = (
            wait_stored(run, produced_at_end, 180) if scenario.name != "spool_small" else None
        )
        if scenario.agent_survives:
            time.sleep(after_s)
            agent.stop()
        settle(run)
        return measure(run, scenario, collector, recovery)
    finally:
        agent.kill()
        collector.close()
        cp.stop()


def settle(run: Run, timeout: float = 120.0) -> None:
    """Until every produced batch is stored, or nothing changed for 30 s."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        have = len(stored_seqs(run))
        produced, _ = run.agent.produced()
        dropped, _ = run.agent.dropped()
        if have >= produced - dropped:
            time.sleep(3)  # late duplicates, events
            return
        if have != last:
            last, since = have, time.monotonic()
        elif time.monotonic() - since > 30:
            return
        time.sleep(1)


def measure(run: Run, scenario: Scenario, collector: Collector, recovery: float | None) -> Result:
    device = run.agent.device_id
    produced_b, produced_e = run.agent.produced()
    dropped_b, dropped_e = run.agent.dropped()
    seqs = stored_seqs(run)
    objects = query(
        run.dsn,
        "SELECT COALESCE(SUM(objects), 0) FROM detection_batches WHERE device_id = $1",
        device,
    )
    rows = query(run.dsn, "SELECT count(*) FROM detections WHERE device_id = $1", device)
    state = query(run.dsn, "SELECT duplicates FROM ingest_state WHERE device_id = $1", device)
    events = query(
        run.dsn, "SELECT event_received FROM ingest_ack_state WHERE device_id = $1", device
    )
    stored_e = int(events[0][0]) if events else 0
    c = httpx.get(f"{run.cp.base}/api/v1/fleet/{device}/completeness", headers=run.auth, timeout=10)
    api_b = api_e = None
    if c.status_code == 200:
        body = c.json()
        api_b = int(body["missing_count"])
        api_e = int(body["events"]["missing_count"]) if body.get("events") else 0
    else:
        run.notes.append(f"FAIL: completeness answered {c.status_code}")
    distinct, _copies, _ = collector.seen()
    stored_b = len([s for s in seqs if s < produced_b])
    return Result(
        name=scenario.name,
        title=scenario.title,
        produced_batches=produced_b,
        stored_batches=stored_b,
        lost_batches=produced_b - stored_b,
        stored_twice=(int(rows[0][0]) - int(objects[0][0])) if rows and objects else 0,
        dropped_batches=dropped_b,
        produced_events=produced_e,
        stored_events=stored_e,
        lost_events=max(0, produced_e - stored_e),
        dropped_events=dropped_e,
        api_missing_batches=api_b,
        api_missing_events=api_e,
        redeliveries=int(state[0][0]) if state else 0,
        seen_on_broker=distinct,
        recovery_s=None if recovery is None else round(recovery, 1),
        measures=run.measures,
        notes=run.notes,
        left_in_spool=run.agent.spooled(),
    )
