"""The device side of a proof run: the real agent on a looping sample video, and an
independent collector on the broker that records what crossed it."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import yaml
from tests.agent.mqtt_capture import persistent_session, subscriber

from aios.shared.codec import decode_message
from aios.shared.messages import DetectionBatch, Event
from scripts.proof.rig import BIN, PREFIX, RigError, end
from scripts.sample_pipeline import person_present_pipeline


@dataclass
class Agent:
    """``aios-agent run`` on a looping sample video, with a person-count rule for events."""

    workdir: Path
    video: Path
    model: Path
    mqtt_url: str
    org_id: str
    device_id: str
    spool_bytes: int = 256 * 1024 * 1024
    keepalive_s: int = 30
    ack_timeout_s: float = 10.0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def state(self) -> Path:
        return self.workdir / "state"

    def write_config(self) -> Path:
        config = {
            "device": {"org_id": self.org_id, "device_id": self.device_id},
            "mqtt": {
                "url": self.mqtt_url,
                "topic_prefix": PREFIX,
                "keepalive_s": self.keepalive_s,
                "ack_timeout_s": self.ack_timeout_s,
            },
            "heartbeat_interval_s": 2,
            "state_dir": str(self.state),
            "model_path": str(self.model),
            "spool": {"max_bytes": self.spool_bytes},
            "pipeline": person_present_pipeline(
                "proof",
                str(self.video),
                detect={"every_n": 2},
                detections={"flush_interval_s": 0.5, "max_frames_per_batch": 2},
                rule={"condition": "count", "cooldown_s": 1.0, "snapshot": False},
                rule_id="crowd",
                sink_id="alerts",
            ),
        }
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / "agent.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def start(self) -> None:
        config = self.write_config()
        with (self.workdir / "agent.log").open("ab") as out:
            self.proc = subprocess.Popen(
                [BIN / "aios-agent", "run", "--config", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        end(self.proc, timeout=30)
        self.proc = None

    def _counter(self, name: str) -> int:
        """The next value of a persistent sequence (``seq`` or ``event_seq``): so many were
        produced."""
        try:
            return int((self.state / name).read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def produced(self) -> tuple[int, int]:
        """Batches and events the agent has numbered so far (its own persistent counters)."""
        return self._counter("seq"), self._counter("event_seq")

    def spooled(self) -> int:
        """Messages still in the agent's spool (not confirmed stored)."""
        path = self.state / "spool.sqlite"
        if not path.exists():
            return 0
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            (count,) = db.execute("SELECT COUNT(*) FROM outbox").fetchone()
        finally:
            db.close()
        return int(count)

    def dropped(self) -> tuple[int, int]:
        """Batches and events the agent's spool reports dropped (its persistent counters)."""
        path = self.state / "spool.sqlite"
        if not path.exists():
            return 0, 0
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            counters = dict(db.execute("SELECT name, value FROM counters").fetchall())
        finally:
            db.close()
        return int(counters.get("dropped_detections", 0)), int(counters.get("dropped_events", 0))


class Collector:
    """An independent subscriber (persistent session, subscribed before the agent starts):
    every batch seq and event id that crossed the broker, with the first time seen."""

    def __init__(self, url: str, org_id: str, device_id: str) -> None:
        port = int(url.rsplit(":", 1)[1])
        self.batches: dict[int, float] = {}
        self.events: dict[int, str] = {}
        self.copies = 0
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = subscriber(
            f"proof-collector-{uuid.uuid4().hex[:8]}",
            f"{PREFIX}/v1/{org_id}/{device_id}/+",
            self._on_message,
            self._subscribed,
        )
        self._client.connect_async(
            "127.0.0.1", port, clean_start=False, properties=persistent_session()
        )
        self._client.loop_start()
        if not self._subscribed.wait(10):
            raise RigError("the collector could not subscribe")

    def _on_message(self, _c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        decoded = decode_message(msg.payload)
        with self._lock:
            if isinstance(decoded, DetectionBatch):
                self.copies += 1
                self.batches.setdefault(decoded.seq, time.time())
            elif isinstance(decoded, Event) and decoded.seq is not None:
                self.events.setdefault(decoded.seq, decoded.id)

    def seen(self) -> tuple[int, int, int]:
        """Distinct batches, copies of batches, distinct events seen on the broker."""
        with self._lock:
            return len(self.batches), self.copies, len(self.events)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()
