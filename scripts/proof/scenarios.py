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
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect as ws_connect

from scripts.proof.rig import (
    PREFIX,
    Agent,
    Collector,
    ControlPlane,
    Mosquitto,
    Postgres,
    RigError,
    register,
)


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


# -- faults -----------------------------------------------------------------------------------


def nothing(run: Run) -> None:
    time.sleep(10)


def kill_control_plane(run: Run) -> None:
    run.cp.kill()
    time.sleep(5)
    run.cp.start()


def stop_mosquitto(run: Run) -> None:
    run.rig.mosquitto.stop()
    time.sleep(run.rig.outage_s)
    run.rig.mosquitto.start()


def kill_mosquitto(run: Run) -> None:
    run.rig.mosquitto.kill()
    time.sleep(2)
    run.rig.mosquitto.start()


def restart_postgres(run: Run) -> None:
    run.rig.postgres.stop()
    time.sleep(10)
    run.rig.postgres.start()


def restart_agent(run: Run) -> None:
    run.agent.kill()
    time.sleep(3)
    run.agent.start()


def leave_agent_dead(run: Run) -> None:
    """SIGKILL the agent: its last will must make it offline in the API and on the WebSocket."""
    token = run.auth["Authorization"].removeprefix("Bearer ")
    port = run.cp.port
    seen: dict[str, float] = {}
    ready = threading.Event()

    def listen() -> None:
        try:
            with ws_connect(f"ws://127.0.0.1:{port}/api/v1/ws?token={token}") as ws:
                ready.set()
                deadline = time.time() + 120
                while time.time() < deadline:
                    try:
                        raw = ws.recv(timeout=1)
                    except TimeoutError:
                        continue
                    msg = json.loads(raw)
                    if (
                        msg.get("type") == "device_status_update"
                        and msg.get("device_id") == run.agent.device_id
                        and msg.get("status") == "offline"
                    ):
                        seen["ws"] = time.time()
                        return
        except (OSError, WebSocketException) as exc:
            run.notes.append(f"WebSocket: {exc}")
        finally:
            ready.set()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(10)
    killed = time.time()
    run.agent.kill()
    api = None
    deadline = time.time() + 120
    while time.time() < deadline and (api is None or listener.is_alive()):
        if api is None:
            r = httpx.get(
                f"{run.cp.base}/api/v1/fleet/{run.agent.device_id}", headers=run.auth, timeout=10
            )
            if r.status_code == 200 and r.json().get("status") == "offline":
                api = time.time() - killed
        time.sleep(0.5)
    listener.join(1)
    run.measures["offline_in_api_s"] = api
    run.measures["offline_on_websocket_s"] = seen["ws"] - killed if "ws" in seen else None
    if api is None:
        run.notes.append("FAIL: the device never showed offline in the API")
    if "ws" not in seen:
        run.notes.append("FAIL: no device_status_update (offline) on the WebSocket")


def _poison_payloads(device_id: str) -> list[tuple[str, bytes]]:
    event = {
        "type": "event",
        "v": 1,
        "id": "poison-" + uuid.uuid4().hex[:8],
        "event_type": "intrusion",
        "severity": "warning",
        "device_id": device_id,
        "stream_id": "cam",
    }
    return [
        ("det", b"[" * 1000 + b"]" * 1000),
        ("evt", json.dumps({**event, "ts": 1e300}).encode()),
        ("evt", json.dumps({**event, "ts": 1.7e9, "rule_id": "r" * 5000}).encode()),
        ("evt", json.dumps({**event, "ts": 1.7e9, "snapshot": "s" * 100_000}).encode()),
        ("det", b"{not json"),
    ]


def inject_poison(run: Run) -> None:
    """Hostile messages on the device's own topics (as a compromised device would send),
    between normal traffic."""
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"proof-poison-{uuid.uuid4().hex[:6]}",
        protocol=paho.MQTTv5,
    )
    client.connect("127.0.0.1", run.rig.mosquitto.port)
    client.loop_start()
    try:
        for channel, payload in _poison_payloads(run.agent.device_id):
            topic = f"{PREFIX}/v1/{run.org_id}/{run.agent.device_id}/{channel}"
            client.publish(topic, payload, qos=1).wait_for_publish(10)
            time.sleep(1)
    finally:
        client.loop_stop()
        client.disconnect()
    time.sleep(10)
    rows = query(
        run.dsn, "SELECT reason, count(*) FROM dead_letters GROUP BY reason ORDER BY reason"
    )
    run.notes.append(
        "dead letters: "
        + (", ".join(f"{r[0]} {r[1]}" for r in rows) or "none")
        + f" (of {len(_poison_payloads(run.agent.device_id))} poison messages)"
    )


SCENARIOS: list[Scenario] = [
    Scenario("baseline", "Baseline (no fault)", nothing),
    Scenario(
        "cp_sigkill", "Control plane SIGKILLed, restarted after 5 s", kill_control_plane, fast=True
    ),
    Scenario(
        "split_cp_sigkill",
        "`aios ingest` + API-only `aios serve`: both SIGKILLed",
        kill_control_plane,
        split=True,
    ),
    Scenario("mqtt_stop", "Mosquitto stopped for the outage, restarted", stop_mosquitto),
    Scenario(
        "mqtt_sigkill",
        "Mosquitto SIGKILLed (loses what it held since its last autosave)",
        kill_mosquitto,
        fast=True,
    ),
    Scenario("pg_restart", "PostgreSQL stopped 10 s and restarted", restart_postgres),
    Scenario(
        "agent_restart", "Agent SIGKILLed and restarted (spool replay)", restart_agent, fast=True
    ),
    Scenario(
        "agent_dead",
        "Agent SIGKILLed and left dead (last will)",
        leave_agent_dead,
        keepalive_s=5,
        agent_survives=False,
    ),
    Scenario(
        "spool_small",
        "Spool (64 KiB) smaller than a Mosquitto outage",
        stop_mosquitto,
        spool_bytes=64 * 1024,
    ),
    Scenario("poison", "Poison messages mixed into normal traffic", inject_poison),
]


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
