"""The faults the proof injects (one function each, given a scenario's live components) and
the catalogue of scenarios, :data:`SCENARIOS`."""

from __future__ import annotations

import json
import threading
import time
import uuid

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect as ws_connect

from scripts.proof.rig import PREFIX
from scripts.proof.scenarios import Run, Scenario, query


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
